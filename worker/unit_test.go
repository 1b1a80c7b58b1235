package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

func TestCheckNameRefusesHostileNames(t *testing.T) {
	hostile := map[string]string{
		"empty":              "",
		"dot":                ".",
		"dot dot":            "..",
		"parent escape":      "../etc/passwd",
		"absolute":           "/etc/passwd",
		"nested":             "a/b",
		"backslash":          `..\secret`,
		"nul":                "a\x00b",
		"newline":            "a\nb",
		"escape sequence":    "a\x1b[2Jb",
		"delete char":        "a\x7fb",
		"leading space":      " a",
		"trailing space":     "a ",
		"invalid utf8":       "a\xffb",
		"too long":           strings.Repeat("x", maxNameBytes+1),
		"c1 control":         "a\u0085b",
		"only separator":     "/",
		"dot dot slash tail": "..//",
	}
	for name, body := range hostile {
		t.Run(name, func(t *testing.T) {
			if err := checkName(body); err == nil {
				t.Errorf("checkName(%q) accepted a hostile name", body)
			}
		})
	}
	for _, ok := range []string{"001", "report.csv", "a b", "ünïcödé", "..hidden", "file..txt", strings.Repeat("x", maxNameBytes)} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q) refused a plain name: %v", ok, err)
		}
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func validEnv() map[string]string {
	return map[string]string{
		"SQS_QUEUE_URL":          "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
		"EFS_SOURCE_FOLDER":      "/data/sourcefolder/",
		"EFS_DESTINATION_FOLDER": "/data/destinationfolder/",
		"AWS_REGION":             "eu-west-1",
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Concurrency != 16 || c.Receivers != 4 || c.WaitTime.Seconds() != 20 || c.VisibilityTimeout.Seconds() != 60 ||
		c.RetryDelay.Seconds() != 10 || c.ShutdownGrace.Seconds() != 20 || c.SourceDir != "/data/sourcefolder" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"missing queue", map[string]string{"SQS_QUEUE_URL": ""}, []string{"SQS_QUEUE_URL is not set"}},
		{"bad queue", map[string]string{"SQS_QUEUE_URL": "main-queue"}, []string{`SQS_QUEUE_URL is "main-queue"`}},
		{"relative folder", map[string]string{"EFS_SOURCE_FOLDER": "data/src"}, []string{`EFS_SOURCE_FOLDER is "data/src"`, "absolute"}},
		{"same folders", map[string]string{"EFS_DESTINATION_FOLDER": "/data/sourcefolder"}, []string{"is EFS_SOURCE_FOLDER", "or inside it"}},
		{"destination inside source", map[string]string{"EFS_DESTINATION_FOLDER": "/data/sourcefolder/done"}, []string{`EFS_DESTINATION_FOLDER "/data/sourcefolder/done" is EFS_SOURCE_FOLDER`, "/data/destinationfolder/"}},
		{"destination hint", map[string]string{"EFS_DESTINATION_FOLDER": "done"}, []string{`EFS_DESTINATION_FOLDER is "done"`, "such as /data/destinationfolder/"}},
		{"no region", map[string]string{"AWS_REGION": ""}, []string{"AWS_REGION is not set"}},
		{"region of spaces", map[string]string{"AWS_REGION": "   "}, []string{`AWS_REGION is "   "`, "region name"}},
		{"region not a region", map[string]string{"AWS_REGION": "Europe"}, []string{`AWS_REGION is "Europe"`}},
		{"zero visibility", map[string]string{"WORKER_VISIBILITY_TIMEOUT_SECONDS": "0"}, []string{`WORKER_VISIBILITY_TIMEOUT_SECONDS is "0"`, "from 5 to 43200"}},
		{"concurrency text", map[string]string{"WORKER_CONCURRENCY": "lots"}, []string{`WORKER_CONCURRENCY is "lots"`}},
		{"wait too long", map[string]string{"WORKER_WAIT_TIME_SECONDS": "21"}, []string{"WORKER_WAIT_TIME_SECONDS"}},
		{"grace too long", map[string]string{"WORKER_SHUTDOWN_GRACE_SECONDS": "300"}, []string{"WORKER_SHUTDOWN_GRACE_SECONDS"}},
		{"grace past the stop timeout", map[string]string{"WORKER_SHUTDOWN_GRACE_SECONDS": "40", "WORKER_STOP_TIMEOUT_SECONDS": "30"},
			[]string{"WORKER_SHUTDOWN_GRACE_SECONDS is 40: must be at most 28", "WORKER_STOP_TIMEOUT_SECONDS 30", "ECS kills the worker"}},
		{"default grace past a short stop timeout", map[string]string{"WORKER_STOP_TIMEOUT_SECONDS": "10"}, []string{"WORKER_SHUTDOWN_GRACE_SECONDS is 20: must be at most 8"}},
		{"stop timeout text", map[string]string{"WORKER_STOP_TIMEOUT_SECONDS": "soon"}, []string{`WORKER_STOP_TIMEOUT_SECONDS is "soon"`, "from 2 to 120"}},
		{"all at once", map[string]string{"SQS_QUEUE_URL": "", "AWS_REGION": "", "WORKER_RECEIVERS": "0"},
			[]string{"SQS_QUEUE_URL", "AWS_REGION", "WORKER_RECEIVERS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := validEnv()
			for k, v := range tc.set {
				e[k] = v
			}
			_, err := loadConfig(env(e))
			errcheck.Contains(t, err, tc.want...)
		})
	}
}

func newTestMover(t *testing.T) *mover {
	dir := t.TempDir()
	m := newMover(filepath.Join(dir, "src"), filepath.Join(dir, "dst"))
	if err := m.ensureDirs(); err != nil {
		t.Fatal(err)
	}
	return m
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestMoveAndRedelivery(t *testing.T) {
	m := newTestMover(t)
	write(t, filepath.Join(m.src, "001"), "hello")
	if r, err := m.move(context.Background(), "001"); err != nil || r != moved {
		t.Fatalf("move = %v, %v", r, err)
	}
	got, err := os.ReadFile(filepath.Join(m.dst, "001_has_been_processed"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("destination holds %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(m.src, "001")); !os.IsNotExist(err) {
		t.Errorf("source still exists: %v", err)
	}
	if r, err := m.move(context.Background(), "001"); err != nil || r != alreadyDone {
		t.Errorf("redelivery = %v, %v; want alreadyDone", r, err)
	}
}

func TestMoveMissingFileFails(t *testing.T) {
	m := newTestMover(t)
	_, err := m.move(context.Background(), "nope")
	errcheck.Contains(t, err, "does not exist")
}

func TestMoveRefusesNonRegularFiles(t *testing.T) {
	m := newTestMover(t)
	secret := filepath.Join(t.TempDir(), "secret")
	write(t, secret, "s")
	if err := os.Symlink(secret, filepath.Join(m.src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(m.src, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"link", "dir"} {
		_, err := m.move(context.Background(), name)
		errcheck.Contains(t, err, "refusing to move it")
	}
	if _, err := os.Stat(secret); err != nil {
		t.Errorf("symlink target touched: %v", err)
	}
}

func TestMoveAcrossFileSystems(t *testing.T) {
	m := newTestMover(t)
	m.link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EXDEV} }
	write(t, filepath.Join(m.src, "big"), "payload")
	if r, err := m.move(context.Background(), "big"); err != nil || r != moved {
		t.Fatalf("cross-device move = %v, %v", r, err)
	}
	got, err := os.ReadFile(filepath.Join(m.dst, "big_has_been_processed"))
	if err != nil || string(got) != "payload" {
		t.Fatalf("copy holds %q, %v", got, err)
	}
	if info, _ := os.Stat(filepath.Join(m.dst, "big_has_been_processed")); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v not kept", info.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(m.src, "big")); !os.IsNotExist(err) {
		t.Error("source not removed after the copy")
	}
	entries, _ := os.ReadDir(m.dst)
	if len(entries) != 1 {
		t.Errorf("temporary files left in the destination: %v", entries)
	}
}

func TestBackoffIsCappedAndGrows(t *testing.T) {
	for n := 1; n < 40; n++ {
		ceiling := min(200*time.Millisecond<<min(n, 10), 20*time.Second)
		for range 50 { // equal jitter: between half of and all of the ceiling
			if d := backoff(n); d < ceiling/2 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want %v..%v", n, d, ceiling/2, ceiling)
			}
		}
	}
	if backoff(1) > backoff(12) {
		t.Error("backoff must grow with failures")
	}
}

func TestShownKeepsAnEscapedPrefix(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"short plain name", "a.txt", "a.txt"},
		{"invalid byte first", "\xff" + strings.Repeat("a", 99), `"\xff` + strings.Repeat("a", 63) + `"...`},
		{"a rune cut by the limit", strings.Repeat("a", 63) + "é" + "b", `"` + strings.Repeat("a", 63) + `"...`},
		{"control character", "a\nb", `"a\nb"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shown(tc.body, checkName(tc.body) == nil); got != tc.want {
				t.Errorf("shown(%q) = %s, want %s", tc.body, got, tc.want)
			}
		})
	}
}
