package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// replaceFile gives a system file new content (nil: removes it) for the
// test and restores what was there at the end, whatever happens.
func replaceFile(t *testing.T, path string, content []byte) func() {
	t.Helper()
	old, err := os.ReadFile(path)
	existed := err == nil
	restore := func() {
		if existed {
			os.WriteFile(path, old, 0o644)
		} else {
			os.Remove(path)
		}
	}
	t.Cleanup(restore)
	if content != nil {
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return restore
}

// byShell reports whether a document's process is the shell with pid or a
// command it ran.
func byShell(d map[string]any, pid float64) bool {
	return get(d, "process.pid") == pid || get(d, "process.parent.pid") == pid
}

func runSh(t *testing.T, script string) int {
	t.Helper()
	c := exec.Command("sh", "-c", script)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return c.Process.Pid
}

const preloadFile = "/etc/ld.so.preload"

func TestPreloadFileWrittenBySh(t *testing.T) {
	hook := compileHook(t)
	replaceFile(t, preloadFile, nil)
	os.Remove(preloadFile)
	s := startSensor(t)

	sh := float64(runSh(t, "echo "+hook+" > "+preloadFile))
	a := s.waitFor("alert for the preload file written by sh", func(d map[string]any) bool {
		return isAlert(d, "preload-file-library-added") && get(d, "process.pid") == sh
	})
	if str(a, "process.name") != "sh" || str(a, "file.path") != preloadFile || !hasLibrary(a, hook) {
		t.Errorf("alert: process %q file %q dll %q", str(a, "process.name"), str(a, "file.path"), str(a, "dll.path"))
	}
	ev := s.waitFor("file creation event", func(d map[string]any) bool {
		return str(d, "event.action") == "loader-config-created" && get(d, "process.pid") == sh
	})
	if str(ev, "labels.content") != hook+"\n" || str(ev, "labels.added") != "preload:"+hook {
		t.Errorf("content %q added %q", str(ev, "labels.content"), str(ev, "labels.added"))
	}
	rm := float64(runSh(t, "rm "+preloadFile))
	s.waitFor("deletion by rm", func(d map[string]any) bool {
		return str(d, "event.action") == "loader-config-deleted" && byShell(d, rm) && str(d, "process.name") == "rm" &&
			str(d, "labels.writer_op") == "unlink"
	})
}

func TestPreloadFileRenamedAwayAndBack(t *testing.T) {
	hook := compileHook(t)
	replaceFile(t, preloadFile, []byte(hook+"\n"))
	t.Cleanup(func() { os.Remove(preloadFile + ".hidden") })
	s := startSensor(t)
	away := float64(runSh(t, "mv "+preloadFile+" "+preloadFile+".hidden"))
	r := s.waitFor("rename away", func(d map[string]any) bool {
		return str(d, "event.action") == "loader-config-renamed" && byShell(d, away)
	})
	if str(r, "file.target_path") != preloadFile+".hidden" {
		t.Errorf("target path %q", str(r, "file.target_path"))
	}
	s.waitFor("alert for hiding the preload file", func(d map[string]any) bool {
		return isAlert(d, "preload-file-hidden") && byShell(d, away) && strings.Contains(str(d, "event.reason"), "renamed away")
	})
	time.Sleep(300 * time.Millisecond) // two changes, not one coalesced
	back := float64(runSh(t, "cd /etc && mv ld.so.preload.hidden ld.so.preload"))
	s.waitFor("rename back", func(d map[string]any) bool {
		return str(d, "event.action") == "loader-config-created" && byShell(d, back) &&
			str(d, "labels.renamed_from") == preloadFile+".hidden"
	})
}

func TestLdconfigRaisesNoAlert(t *testing.T) {
	s := startSensor(t, "-no-sweep")
	pid := float64(runSh(t, "ldconfig"))
	s.waitFor("cache rewritten by ldconfig", func(d map[string]any) bool {
		return str(d, "event.action") == "loader-config-modified" && str(d, "file.path") == "/etc/ld.so.cache" &&
			str(d, "process.name") == "ldconfig" && get(d, "process.parent.pid") == pid
	})
	time.Sleep(300 * time.Millisecond)
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" {
			t.Errorf("alert: %s", str(d, "message"))
		}
	}
}

func TestUnitDropInWithLoaderVariable(t *testing.T) {
	hook := compileHook(t)
	dir := "/run/systemd/system/hookwatch-test.service.d"
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.RemoveAll(dir)
	s := startSensor(t)
	os.MkdirAll(filepath.Dir(dir), 0o755)
	pid := float64(runSh(t, "mkdir -p "+dir+" && printf '[Service]\\nEnvironment=\"LD_PRELOAD="+hook+"\"\\n' > "+dir+"/override.conf"))
	a := s.waitFor("alert for the drop-in", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-in-environment") && str(d, "file.path") == dir+"/override.conf"
	})
	if !hasLibrary(a, hook) || !byShell(a, pid) {
		t.Errorf("dll %q writer parent %v (sh %v)", str(a, "dll.path"), get(a, "process.parent.pid"), pid)
	}
}

func TestEnvironmentFileWithLoaderVariable(t *testing.T) {
	hook := compileHook(t)
	restore := replaceFile(t, "/etc/environment", nil)
	s := startSensor(t, "-no-sweep")
	runSh(t, "printf 'LD_PRELOAD=\""+hook+"\"\\n' >> /etc/environment")
	a := s.waitFor("alert for /etc/environment", func(d map[string]any) bool {
		return isAlert(d, "loader-variable-in-environment") && str(d, "file.path") == "/etc/environment"
	})
	restore()
	if !hasLibrary(a, hook) || str(a, "process.name") != "sh" {
		t.Errorf("dll %q writer %q", str(a, "dll.path"), str(a, "process.name"))
	}
}

// The package manager's changes are telemetry. (It is told by the comm of
// the writer and its ancestors.)
func TestPackageManagerWriteIsTelemetry(t *testing.T) {
	hook := compileHook(t)
	replaceFile(t, preloadFile, nil)
	os.Remove(preloadFile)
	dpkg := filepath.Join(t.TempDir(), "dpkg")
	if out, err := exec.Command("cp", "/bin/sh", dpkg).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	s := startSensor(t, "-no-sweep")
	c := exec.Command(dpkg, "-c", "echo "+hook+" > "+preloadFile+"; sleep 0.3; rm "+preloadFile)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ev := s.waitFor("telemetry for the package manager's write", func(d map[string]any) bool {
		return str(d, "event.action") == "loader-config-created" && str(d, "file.path") == preloadFile
	})
	if str(ev, "labels.package_manager") != "true" {
		t.Errorf("not marked as the package manager's: %v", get(ev, "labels"))
	}
	time.Sleep(300 * time.Millisecond)
	for _, d := range s.docs() {
		if str(d, "event.kind") == "alert" && str(d, "file.path") == preloadFile {
			t.Errorf("alert for a package manager change: %s", str(d, "message"))
		}
	}
}

func TestStartupSweepReportsPreloadFile(t *testing.T) {
	hook := compileHook(t)
	replaceFile(t, preloadFile, []byte(hook+"\n"))
	s := startSensor(t)
	a := s.waitFor("alert for a preload file present at start", func(d map[string]any) bool {
		return isAlert(d, "preload-file-library-added") && str(d, "file.path") == preloadFile
	})
	if !strings.Contains(str(a, "event.reason"), "present when hookwatch started") || !hasLibrary(a, hook) {
		t.Errorf("reason %q dll %q", str(a, "event.reason"), str(a, "dll.path"))
	}
}

// A file replaced thousands of times a second: no crash, a few coalesced
// reports that say how many changes they stand for.
func TestPreloadFileStorm(t *testing.T) {
	hook := compileHook(t)
	replaceFile(t, preloadFile, nil)
	os.Remove(preloadFile)
	s := startSensor(t, "-no-sweep")
	tmp := "/etc/.hw-storm"
	for i := 0; i < 3000; i++ {
		os.WriteFile(tmp, []byte(hook+"\n"), 0o644)
		os.Rename(tmp, preloadFile)
	}
	os.Remove(preloadFile)
	time.Sleep(time.Second)
	var reports, coalesced int
	for _, d := range s.docs() {
		if str(d, "event.kind") == "event" && str(d, "file.path") == preloadFile {
			reports++
			n := 0
			for _, c := range str(d, "labels.coalesced") {
				n = n*10 + int(c-'0')
			}
			coalesced += n
		}
	}
	// inotify itself merges identical queued events, so the count is
	// what reached us, not the 6000 operations.
	if reports == 0 || reports > 100 || coalesced < 10*reports {
		t.Errorf("%d reports standing for %d notifications, want a few for many", reports, coalesced)
	}
}

func TestAlternateLoaders(t *testing.T) {
	dir := t.TempDir()
	ldso, err := filepath.EvalSymlinks("/lib64/ld-linux-x86-64.so.2")
	if err != nil {
		t.Fatal(err)
	}
	myld := filepath.Join(dir, "myld.so")
	if out, err := exec.Command("cp", ldso, myld).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644)
	odd := filepath.Join(dir, "oddinterp")
	if out, err := exec.Command("gcc", "-o", odd, src, "-Wl,--dynamic-linker="+myld).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	hook := compileHook(t)
	s := startSensor(t)
	oddRun := exec.Command(odd)
	if err := oddRun.Run(); err != nil {
		t.Fatal(err)
	}
	s.waitFor("alert for a program with a foreign interpreter", func(d map[string]any) bool {
		return isAlert(d, "alternate-loader") && get(d, "process.pid") == float64(oddRun.Process.Pid) && hasLibrary(d, myld)
	})
	sshPath, _ := exec.LookPath("ssh")
	copyRun := exec.Command(myld, "--preload", hook, sshPath, "-V")
	copyRun.Run()
	a := s.waitFor("alert for a loader copy run directly", func(d map[string]any) bool {
		return isAlert(d, "alternate-loader-credential") && get(d, "process.pid") == float64(copyRun.Process.Pid)
	})
	if str(a, "labels.target_image") != sshPath || !strings.Contains(str(a, "event.reason"), hook) || str(a, "labels.severity_level") != "critical" {
		t.Errorf("target %q reason %q level %q", str(a, "labels.target_image"), str(a, "event.reason"), str(a, "labels.severity_level"))
	}
}
