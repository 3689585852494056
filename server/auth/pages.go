package auth

import (
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
)

// pageData fills the sign-in page.
type pageData struct {
	Title    string
	Message  string
	UserCode string
	// PollURL, when set, is polled until the phone decides; the page then
	// follows the redirect it is given.
	PollURL string
	Nonce   string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>HiveSync · {{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;text-align:center}
.code{font:700 2.4rem ui-monospace,monospace;letter-spacing:.2em;margin:1.5rem 0}#status{color:#555}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .UserCode}}<div class="code">{{.UserCode}}</div>{{end}}
{{if .PollURL}}<p id="status">Waiting for approval…</p>
<script nonce="{{.Nonce}}">
(function poll(){
  fetch({{.PollURL}},{cache:"no-store"}).then(function(r){return r.json()}).then(function(s){
    var el=document.getElementById("status");
    if(s.redirect){el.textContent=s.status==="approved"?"Approved. Returning to the application…":"Sign-in refused.";window.location.replace(s.redirect);return}
    if(s.status==="expired"){el.textContent="This request expired. Start the sign-in again from the application.";return}
    if(s.status==="done"){el.textContent="Done. You can close this window.";return}
    setTimeout(poll,2000);
  }).catch(function(){setTimeout(poll,4000)});
})();
</script>{{end}}
</body></html>`))

// page renders the sign-in page with a strict content security policy.
func (o *OAuthServer) page(w http.ResponseWriter, status int, d pageData) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	d.Nonce = base64.RawStdEncoding.EncodeToString(nonce)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self'; script-src 'nonce-"+d.Nonce+"'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, d)
}

// devicePage is the device flow's verification URI: approval happens in the
// mobile app, so the page says how.
func (o *OAuthServer) devicePage(w http.ResponseWriter, r *http.Request) {
	d := pageData{
		Title:   "Approve this sign-in on your phone",
		Message: "Open the HiveSync app, choose \"Approve sign-in\" and enter the code your editor or terminal shows.",
	}
	if code := normalizeUserCode(r.URL.Query().Get("user_code")); len(code) == 8 {
		d.UserCode = formatUserCode(code)
	}
	o.page(w, http.StatusOK, d)
}
