// Package app will hold Clinic Sync's Fyne user interface: the tray menu,
// the window (activity, documents, settings) and the view-model goroutine
// that turns engine events into widget updates inside fyne.Do. It reads
// engine snapshots and events and sends commands; it never touches the
// store. Until it lands, `clinicsync run` and `clinicsync demo` drive the
// engine headless.
package app
