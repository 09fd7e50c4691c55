// Command slowregistry is a test fixture: a registry that answers like
// the one it fronts, only slowly. It forwards every request to the real
// test registry and holds each blob download for a delay first, so an
// end-to-end test can have a node pull for as long as it needs (a pull
// longer than another job's epilog may wait). Manifests are not delayed:
// srun's resolve stays quick. It is real HTTP to a real registry; nothing
// is faked.
//
//	slowregistry -listen 127.0.0.1:5003 -upstream http://127.0.0.1:5000 -delay 40s
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5003", "address to serve on")
	upstream := flag.String("upstream", "http://127.0.0.1:5000", "the registry to front")
	delay := flag.Duration("delay", 30*time.Second, "how long each blob download is held")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		log.Fatalf("slowregistry: -upstream %q: want a URL such as http://127.0.0.1:5000", *upstream)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			log.Printf("holding %s for %s", r.URL.Path, *delay)
			select {
			case <-time.After(*delay):
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})
	log.Printf("serving %s in front of %s, blobs held %s", *listen, u, *delay)
	log.Fatal(http.ListenAndServe(*listen, h))
}
