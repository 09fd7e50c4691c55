package main

// node save: --container-save. The container's root filesystem, as its
// processes see it but without anything mounted on it (every mount point
// of the container's mount table is left out), written as a
// squashfs file that --container-image=PATH can start from. It runs in
// podman's user namespace, where the user is root, so files the image's
// root owns are read and keep their owner.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/carina-hpc/carina/pkg/plan"
)

func nodeSave(f nodeFlags, name, out string) error {
	if !filepath.IsAbs(out) || name == "" {
		return fmt.Errorf("node save: --name and an absolute --out are required")
	}
	resetOOMScore()
	s, d, unlock, err := f.lockStep()
	if err != nil {
		return err
	}
	defer unlock()
	if !plan.IsJobContainer(name, s.JobID, s.Node) {
		return fmt.Errorf("node save: %s is not a container of job %d on %s", name, s.JobID, s.Node)
	}
	ctx := context.Background()
	pm := f.podmanFor(d)
	st, ok, err := pm.Inspect(ctx, name)
	if err != nil {
		return err
	}
	if !ok || !st.Running {
		return fmt.Errorf("the container %s does not run any more", name)
	}
	var c plan.Container
	if b, err := os.ReadFile(filepath.Join(d.Run, name+".json")); err != nil || json.Unmarshal(b, &c) != nil {
		return fmt.Errorf("no state for container %s", name)
	}
	tmp := out + ".carina-tmp." + strconv.Itoa(os.Getpid())
	root := fmt.Sprintf("/proc/%d/root/", st.Pid) // the directory, not the link
	excludes, err := mountPoints(st.Pid)
	if err != nil {
		return err
	}
	sq := append([]string{"mksquashfs", root, tmp, "-comp", "lz4", "-noappend", "-quiet", "-no-progress", "-e"}, excludes...)
	if err := pm.Unshare(ctx, sq...); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

// mountPoints lists the container's mount points other than its root,
// relative to the root, from the mount table of its init process.
func mountPoints(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the container's mount table: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := strings.TrimPrefix(unescapeMount(f[4]), "/")
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
