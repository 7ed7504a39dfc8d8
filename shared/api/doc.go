// Package api is Laoyou's HTTP API: which routes each function serves, the
// request and response bodies, and the handlers that turn them into calls
// on the domain services (built by shared/app).
package api
