package console

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
)

// maxKeyLen bounds what the sign-in form accepts as a key.
const maxKeyLen = 512

// signInPage is the data of the sign-in page.
type signInPage struct {
	Message string
}

// signInForm shows the sign-in form. A browser without a session gets an
// anonymous one, so that the form's CSRF token is bound to something.
func (c *console) signInForm(w http.ResponseWriter, r *http.Request) {
	s := c.seal.sessionFrom(r, c.now())
	if s.signedIn() {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	var msg string
	if r.URL.Query().Get("expired") != "" {
		msg = "Your session ended or the key is no longer valid. Sign in again."
	}
	c.showSignIn(w, r, s, http.StatusOK, msg)
}

// showSignIn renders the form with a message, starting an anonymous
// session when s is nil.
func (c *console) showSignIn(w http.ResponseWriter, r *http.Request, s *session, code int, msg string) {
	if s == nil {
		s = &session{ID: newSessionID(), Expires: c.now().Add(anonymousTTL)}
		if err := c.seal.setCookie(w, r, *s); err != nil {
			c.log.ErrorContext(r.Context(), "console: seal session", slog.Any("err", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	c.render(w, r, s, code, "signin", "Sign in", "", signInPage{Message: msg})
}

// signIn checks the key with one read call through the gateway (so the
// gateway's keyring decides) and on success replaces the anonymous session
// with a new one holding the key; the new id keeps a session id seen
// before sign-in from being of use after it.
func (c *console) signIn(w http.ResponseWriter, r *http.Request) {
	s, ok := c.checkPost(w, r)
	if !ok {
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if key == "" || len(key) > maxKeyLen || strings.ContainsFunc(key, isControl) {
		c.showSignIn(w, r, s, http.StatusBadRequest, "Enter your operator API key.")
		return
	}
	signed := session{ID: newSessionID(), Key: key, Expires: c.now().Add(signedInTTL)}
	ctx, cancel := callCtx(r, &signed)
	defer cancel()
	if _, err := c.client.ListExceptions(ctx, &opsv1.ListExceptionsRequest{PageSize: 1}); err != nil {
		st := status.Convert(err)
		switch st.Code() {
		case codes.Unauthenticated:
			c.showSignIn(w, r, s, http.StatusUnauthorized, "That key is not known.")
		case codes.PermissionDenied:
			c.showSignIn(w, r, s, http.StatusForbidden, "That key is not an operator key (PERMISSION_DENIED).")
		default:
			c.log.WarnContext(r.Context(), "console: sign-in check failed", slog.String("code", st.Code().String()))
			c.showSignIn(w, r, s, runtime.HTTPStatusFromCode(st.Code()), "The key could not be checked ("+rpccode.Code(st.Code()).String()+"): "+st.Message())
		}
		return
	}
	if err := c.seal.setCookie(w, r, signed); err != nil {
		c.log.ErrorContext(r.Context(), "console: seal session", slog.Any("err", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

// signOut forgets the session.
func (c *console) signOut(w http.ResponseWriter, r *http.Request, _ *session) {
	clearCookie(w, r)
	http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
}
