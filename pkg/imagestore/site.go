package imagestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// A site store is an image store that an admin fills (`carina pull --site`,
// as root) and every user reads. Users never open its containers/storage
// graph (root's, 0700): they read only its index and its squashfs files,
// both world-readable:
//
//	SITE/carina/site.json              the index, replaced atomically
//	SITE/carina/squash/<imageID>.sqsh  each image's root filesystem
//
// A node whose pinned image (repo@sha256:...) is in the index starts from
// the site's squashfs and pulls nothing into the user's store.

// SiteImage is one entry of a site store's index.
type SiteImage struct {
	ID      string   `json:"id"`
	Digests []string `json:"digests"` // manifest digests the image is known by
	Names   []string `json:"names"`
	Env     []string `json:"env"`
	Workdir string   `json:"workdir"`
}

type siteIndex struct {
	Images []SiteImage `json:"images"`
}

// SiteIndex is the index file of a site store.
func SiteIndex(dir string) string { return filepath.Join(dir, "carina", "site.json") }

// ReadSite returns the images of a site store (none when it has no index).
func ReadSite(dir string) ([]SiteImage, error) {
	b, err := os.ReadFile(SiteIndex(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the site image index: %w", err)
	}
	var idx siteIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("reading the site image index %s: %w", SiteIndex(dir), err)
	}
	return idx.Images, nil
}

// FindSite returns the site image known by manifest digest d whose
// squashfs file exists.
func FindSite(dir, d string) (SiteImage, bool, error) {
	imgs, err := ReadSite(dir)
	if err != nil {
		return SiteImage{}, false, err
	}
	for _, img := range imgs {
		for _, x := range img.Digests {
			if x == d && ValidImageID(img.ID) == nil {
				if _, err := os.Stat(SquashFile(dir, img.ID)); err == nil {
					return img, true, nil
				}
			}
		}
	}
	return SiteImage{}, false, nil
}

// AddSite records img in the site index (replacing an entry with the same
// id) and makes the index and the image's squashfs world-readable. The
// caller holds the store's lock.
func AddSite(dir string, img SiteImage) error {
	if err := ValidImageID(img.ID); err != nil {
		return err
	}
	imgs, err := ReadSite(dir)
	if err != nil {
		return err
	}
	out := []SiteImage{img}
	for _, x := range imgs {
		if x.ID != img.ID {
			out = append(out, x)
		}
	}
	b, err := json.MarshalIndent(siteIndex{Images: out}, "", "  ")
	if err != nil {
		return err
	}
	for _, d := range []string{dir, filepath.Join(dir, "carina"), filepath.Dir(SquashFile(dir, img.ID))} {
		if err := os.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("opening %s to readers: %w", d, err)
		}
	}
	if err := os.Chmod(SquashFile(dir, img.ID), 0o644); err != nil {
		return fmt.Errorf("opening the squashfs of image %.12s to readers: %w", img.ID, err)
	}
	tmp := SiteIndex(dir) + ".tmp." + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, SiteIndex(dir)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("publishing the site image index: %w", err)
	}
	return nil
}
