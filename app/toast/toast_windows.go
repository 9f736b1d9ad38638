//go:build windows

package toast

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"git.sr.ht/~jackmordaunt/go-toast/wintoast"
	"github.com/go-ole/go-ole"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// setAppID is shell32's SetCurrentProcessExplicitAppUserModelID: the
// process's windows and toasts then belong to the Start menu shortcut
// that carries the same AppUserModelID (the MSI's).
var setAppID = windows.NewLazySystemDLL("shell32.dll").NewProc("SetCurrentProcessExplicitAppUserModelID")

// activatorGUID is Clinic Sync's own COM class for toast activation
// (wintoast registers it as the AUMID's CustomActivator); not the
// library's default, which every program using it shares.
const activatorGUID = "{6B3E9C41-2F0D-4C5B-A8E7-1D94F07C3A52}"

var (
	mu         sync.Mutex
	registered bool
	requests   chan request // to the COM thread, made by Register
)

type request struct {
	xml  string
	done chan error
}

func register(displayName, iconPath string) error {
	mu.Lock()
	defer mu.Unlock()
	if setAppID.Find() == nil {
		id, _ := windows.UTF16PtrFromString(AppID)
		setAppID.Call(uintptr(unsafe.Pointer(id)))
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, `Software\Classes\AppUserModelId\`+AppID, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("register %s: %w", AppID, err)
	}
	defer k.Close()
	if err := k.SetStringValue("DisplayName", displayName); err != nil {
		return err
	}
	if iconPath != "" {
		if err := k.SetStringValue("IconUri", iconPath); err != nil {
			return err
		}
	}
	// The name and icon above are kept (wintoast writes only values not
	// there yet); it adds the CustomActivator and keeps the AppID for Push.
	if err := wintoast.SetAppData(wintoast.AppData{AppID: AppID, GUID: activatorGUID}); err != nil {
		return err
	}
	if !registered {
		registered = true
		requests = make(chan request)
		go comThread(requests)
	}
	return nil
}

// comThread pushes every toast from one OS thread, the one that
// initialised the Windows Runtime: COM wants its calls on initialised
// threads, and goroutines move between threads.
//
// Each toast has its own COM apartment: wintoast.Push registers a class
// factory (Go callbacks) for activations, which the apartment's end
// revokes at once. Left registered, Windows' COM (Wine's at least) calls
// it while the process exits, which crashes the Go runtime ("exitsyscall:
// syscall frame is no longer valid"). Clicking a toast therefore only
// dismisses it.
func comThread(reqs <-chan request) {
	runtime.LockOSThread()
	first := true
	for r := range reqs {
		if !first { // wintoast initialises the Runtime on its first Push only
			ole.RoInitialize(1) // multithreaded, as wintoast does
		}
		first = false
		// No wintoast.PowershellFallback nor PreferPowershell: a toast
		// the Runtime refuses is not shown, never handed to a script.
		err := wintoast.Push(r.xml)
		ole.CoUninitialize()
		r.done <- err
	}
}

// showTimeout bounds a toast: the window's view-model waits for it.
const showTimeout = 10 * time.Second

func show(xml string) error {
	mu.Lock()
	reqs, ok := requests, registered
	mu.Unlock()
	if !ok {
		return ErrNotRegistered
	}
	r := request{xml: xml, done: make(chan error, 1)}
	select {
	case reqs <- r:
	case <-time.After(showTimeout):
		return fmt.Errorf("toast: the previous one is still being shown")
	}
	select {
	case err := <-r.done:
		return err
	case <-time.After(showTimeout):
		return fmt.Errorf("toast: Windows did not answer within %v", showTimeout)
	}
}
