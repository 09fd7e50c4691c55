package regauth

import (
	"slices"
	"testing"
)

func TestFiles(t *testing.T) {
	exists := func(d string) bool { return d == "/run/user/1000" }
	tests := []struct {
		name string
		env  map[string]string
		home string
		want []string
	}{
		{"login-like: runtime dir present", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/u"}, "/home/p",
			[]string{"/run/user/1000/containers/auth.json", "/home/u/.config/containers/auth.json", "/home/u/.docker/config.json"}},
		{"compute node: the login host's runtime dir is missing", map[string]string{"XDG_RUNTIME_DIR": "/run/user/999"}, "/home/p",
			[]string{"/home/p/.config/containers/auth.json", "/home/p/.docker/config.json"}},
		{"bare (cron-like): nothing set", nil, "/home/p",
			[]string{"/home/p/.config/containers/auth.json", "/home/p/.docker/config.json"}},
		{"REGISTRY_AUTH_FILE alone", map[string]string{"REGISTRY_AUTH_FILE": "/work/a//auth.json", "XDG_RUNTIME_DIR": "/run/user/1000"}, "/home/p",
			[]string{"/work/a/auth.json"}},
		{"relative REGISTRY_AUTH_FILE names nothing", map[string]string{"REGISTRY_AUTH_FILE": "auth.json"}, "/home/p", nil},
		{"XDG_CONFIG_HOME and DOCKER_CONFIG", map[string]string{"XDG_CONFIG_HOME": "/cfg", "DOCKER_CONFIG": "/dk"}, "/home/p",
			[]string{"/cfg/containers/auth.json", "/dk/config.json"}},
		{"relative XDG_CONFIG_HOME falls back to home", map[string]string{"XDG_CONFIG_HOME": "cfg"}, "/home/p",
			[]string{"/home/p/.config/containers/auth.json", "/home/p/.docker/config.json"}},
		{"no home at all", nil, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := FromEnv(func(n string) string { return tc.env[n] }, tc.home)
			if got := e.Files(exists); !slices.Equal(got, tc.want) {
				t.Errorf("Files() = %q, want %q", got, tc.want)
			}
		})
	}
}
