package runas

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the master, to read what is written
// to the terminal, and the slave, the terminal that a root shell would
// hand the carina command as its stdout and stderr.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	master = os.NewFile(uintptr(m), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// probe runs in the helper's place and reports what it was given: which of
// fds 0-2 are terminals, where stdin points, every descriptor above 2, its
// session and controlling terminal (fields 6 and 7 of /proc/PID/stat),
// then prints an escape sequence and a line on stderr. (The glob opens the
// fd directory itself, which is closed again by the time [ -e ] looks.)
const probe = `
for fd in 0 1 2; do if [ -t $fd ]; then echo "terminal on fd $fd"; fi; done
echo "stdin $(readlink /proc/$$/fd/0)"
for f in /proc/$$/fd/*; do
	n=${f##*/}
	if [ -e "$f" ] && [ "$n" -gt 2 ]; then echo "inherited $n $(readlink "$f")"; fi
done
read -r _ _ _ _ _ sid tty _ </proc/$$/stat
echo "pid $$ sid $sid tty $tty uid $(id -u)"
printf 'x\033[2J\033]0;owned\007y\n'
echo "to stderr" >&2
`

// TestStreamGivesTheHelperNoTerminalNorDescriptor runs the helper the way
// root runs a store command as the store's owner (carina images --store
// DIR), from a process whose stdout and stderr are a terminal and which
// holds an inherited descriptor (not close-on-exec) of that terminal.
//
// As root the helper really runs as another user (nobody, 65534). As any
// other user the credential switch cannot be made, so the test fakes it
// with Self (the same process set-up, without the switch): everything it
// checks but the uid is the same.
func TestStreamGivesTheHelperNoTerminalNorDescriptor(t *testing.T) {
	master, slave := openPTY(t)
	defer master.Close()
	leaked, err := unix.Dup(int(slave.Fd())) // dup(2) clears close-on-exec
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if leaked >= 0 {
			unix.Close(leaked)
		}
	}()
	c := Cmd{Path: "/bin/sh", Args: []string{"-c", probe}, Timeout: 20 * time.Second}
	wantUID := os.Getuid()
	if os.Getuid() == 0 {
		c.As, wantUID = User{UID: 65534, GID: 65534, Name: "nobody", Home: "/nonexistent"}, 65534
	} else {
		c.Self = true // the fake: no credential switch without root
	}

	seen := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, master) // ends with EIO once no slave is open
		seen <- strings.ReplaceAll(b.String(), "\r\n", "\n")
	}()
	code, err := c.Stream(context.Background(), slave, slave)
	slave.Close()
	unix.Close(leaked)
	leaked = -1
	out := <-seen
	t.Logf("the terminal got:\n%s", out)
	if err != nil || code != 0 {
		t.Fatalf("Stream = %d, %v", code, err)
	}

	if strings.Contains(out, "terminal on fd") {
		t.Errorf("the helper has a terminal on fds 0-2")
	}
	if !strings.Contains(out, "stdin /dev/null\n") {
		t.Errorf("the helper's stdin is not /dev/null")
	}
	if strings.Contains(out, "inherited ") {
		t.Errorf("the helper inherited descriptors above 2")
	}
	var pid, sid, tty, uid int
	line := out[strings.Index(out, "pid "):]
	if _, err := fmt.Sscanf(line, "pid %d sid %d tty %d uid %d", &pid, &sid, &tty, &uid); err != nil {
		t.Fatalf("no pid line: %v", err)
	}
	if own, _ := unix.Getsid(0); sid != pid || sid == own {
		t.Errorf("the helper's session is %d (its pid %d, this process's %d): want a session of its own", sid, pid, own)
	}
	if tty != 0 {
		t.Errorf("the helper has a controlling terminal (tty_nr %d)", tty)
	}
	if uid != wantUID {
		t.Errorf("the helper ran as uid %d, want %d", uid, wantUID)
	}
	if strings.ContainsRune(out, 0x1b) || strings.ContainsRune(out, 0x07) ||
		!strings.Contains(out, `x\x1b[2J\x1b]0;owned\x07y`+"\n") {
		t.Errorf("the escape sequence reached the terminal unescaped")
	}
	if !strings.Contains(out, "to stderr\n") {
		t.Errorf("the helper's stderr did not reach the terminal")
	}
}

func TestStreamStatusAndBounds(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		timeout  time.Duration
		code     int
		err      string // part of the error; "" for none
		out, log string // what reaches stdout and stderr
	}{
		{name: "exit status", script: "echo out; echo 'carina: image x is not in the store' >&2; exit 3", code: 3,
			out: "out\n", log: "carina: image x is not in the store\n"},
		{name: "stderr cut at its bound", script: "head -c 1048600 /dev/zero | tr '\\0' a >&2; echo fine",
			err: "its standard error was cut after 1048576 bytes", out: "fine\n", log: strings.Repeat("a", 1<<20)},
		{name: "killed when the time is up", script: "sleep 30", timeout: 200 * time.Millisecond, code: -1,
			err: "stopped: context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code, err := Cmd{Path: "/bin/sh", Args: []string{"-c", tc.script}, Self: true, Timeout: tc.timeout}.
				Stream(context.Background(), &stdout, &stderr)
			if time.Since(start) > 10*time.Second {
				t.Fatalf("took %s", time.Since(start))
			}
			if code != tc.code || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Stream = %d, %v; want %d, %q", code, err, tc.code, tc.err)
			}
			if stdout.String() != tc.out || stderr.String() != tc.log {
				t.Errorf("stdout %q, stderr %.60q (%d bytes)", stdout.String(), stderr.String(), stderr.Len())
			}
		})
	}
}
