//go:build windows

package toast

import (
	"os"
	"os/exec"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// jobAccounting is JOBOBJECT_BASIC_ACCOUNTING_INFORMATION.
type jobAccounting struct {
	TotalUserTime, TotalKernelTime, ThisPeriodUserTime, ThisPeriodKernelTime int64
	TotalPageFaultCount, TotalProcesses, ActiveProcesses, TotalTerminated    uint32
}

// processCounter counts every process this one and its children start
// (exited ones too): this process joins a job object, whose accounting
// Windows keeps.
type processCounter struct{ job windows.Handle }

func newProcessCounter(t *testing.T) processCounter {
	t.Helper()
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		t.Fatalf("CreateJobObject: %v", err)
	}
	if err := windows.AssignProcessToJobObject(job, windows.CurrentProcess()); err != nil {
		t.Fatalf("AssignProcessToJobObject: %v", err)
	}
	return processCounter{job}
}

func (c processCounter) total(t *testing.T) uint32 {
	t.Helper()
	var a jobAccounting
	if err := windows.QueryInformationJobObject(c.job, windows.JobObjectBasicAccountingInformation,
		uintptr(unsafe.Pointer(&a)), uint32(unsafe.Sizeof(a)), nil); err != nil {
		t.Fatalf("QueryInformationJobObject: %v", err)
	}
	return a.TotalProcesses
}

// Sending a notification starts no process: no PowerShell, no script
// host, whether Windows shows the toast or refuses it (Wine has no toast
// service). The count is checked to move with a child process first, so
// the test cannot pass by not measuring. Registration names the app
// "Clinic Sync" under AppID in HKCU.
func TestShowStartsNoProcess(t *testing.T) {
	count := newProcessCounter(t)
	before := count.total(t)
	if err := exec.Command(os.Args[0], "-test.run=^$").Run(); err != nil {
		t.Fatalf("the control child: %v", err)
	}
	if n := count.total(t); n != before+1 {
		t.Fatalf("the job counted %d processes for one child: it cannot measure", n-before)
	}

	if err := Show("a", "b"); err != ErrNotRegistered {
		t.Fatalf("Show before Register: %v", err)
	}
	if err := Register("Clinic Sync", ""); err != nil {
		t.Fatalf("Register: %v", err)
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, `Software\Classes\AppUserModelId\`+AppID, registry.QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if name, _, err := k.GetStringValue("DisplayName"); err != nil || name != "Clinic Sync" {
		t.Fatalf("DisplayName %q, %v", name, err)
	}

	before = count.total(t)
	for i := range 3 {
		err := Show("Clinic Sync: disk full", "The documents folder C:\\Patients has less than 500 MB free.")
		t.Logf("toast %d: %v", i+1, err) // nil on Windows 10/11; Wine 8 has no toast service
	}
	if n := count.total(t); n != before {
		t.Fatalf("sending notifications started %d processes", n-before)
	}
}
