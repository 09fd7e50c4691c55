package main

import (
	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/envfile"
	"github.com/carina-hpc/carina/pkg/option"
)

// loadEnvironment reads an --environment file (NAME or PATH) with its
// bases and hands its settings to the option layer.
func loadEnvironment(value, cwd, home string, c config.Config) (option.EnvFile, error) {
	e, err := envfile.Load(value, cwd, home, c.EnvironmentsDir)
	if err != nil {
		return option.EnvFile{}, err
	}
	path := ""
	if len(e.Files) > 0 {
		path = e.Files[len(e.Files)-1]
	}
	return option.EnvFile{Path: path, Image: e.Image, Mounts: e.Mounts, Workdir: e.Workdir,
		Writable: e.Writable, Entrypoint: e.Entrypoint, MountHome: e.MountHome, Remap: e.RemapRoot,
		ContainerEnv: e.ContainerEnv, Env: e.Env, Annotations: e.Annotations}, nil
}
