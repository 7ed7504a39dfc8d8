// Package wechat measures Laoyou's calls to WeChat against the stand-in
// (infra/wechatstub) and DynamoDB.
//
// The goals of docs/DESIGN.md's Performance section are one
// getwxacodeunlimit call per scene, ever, however many ask at once, at most
// one access-token fetch per app per token lifetime across every execution
// environment, plus one forced refresh after an invalid-token answer, and
// one WeChat call and at most one write per sign-in.
//
// Each execution environment is a client and a code service of its own,
// sharing nothing in memory with the others, only the table.
package wechat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/laoyou/laoyou/infra/bench/apistack"
	"github.com/laoyou/laoyou/infra/wechatstub"
	"github.com/laoyou/laoyou/shared/clock"
	"github.com/laoyou/laoyou/shared/dynamo"
	wx "github.com/laoyou/laoyou/shared/wechat"
	"github.com/laoyou/laoyou/shared/wxacode"
)

// Options say how much to measure.
type Options struct {
	Apps         int // mini-programs; default 3
	Environments int // cold execution environments per app and wave; default 100
	Requesters   int // concurrent first requests of one code; default 50
	SignIns      int // warm sign-ins after the cold one; default 20
	Progress     io.Writer
}

// Figures are what one Measure counted at the stand-in.
type Figures struct {
	Options
	FirstWave   int           // token fetches when every environment starts cold at once
	SameLife    int           // fetches by a second wave within the token's lifetime
	NextLife    int           // fetches by a wave after the token's renewal point
	Revoked     int           // fetches after the token was revoked mid-run
	CodeFirst   int           // getwxacodeunlimit calls for Requesters concurrent first requests
	CodeLater   int           // calls for as many later requests
	FirstWaveIn time.Duration // how long the first wave took
	SignIn      SignIn        // sign-ins through POST /v1/auth/wechat
}

// Measure runs the waves on a table of its own.
func Measure(ctx context.Context, db *apistack.DB, o Options) (Figures, error) {
	if o.Apps == 0 {
		o.Apps = 3
	}
	if o.Environments == 0 {
		o.Environments = 100
	}
	if o.Requesters == 0 {
		o.Requesters = 50
	}
	if o.SignIns == 0 {
		o.SignIns = 20
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	f := Figures{Options: o}
	stub := wechatstub.New()
	c := clock.At(time.Now().UTC())
	stub.Now = c.Now
	apps := make([]wx.App, o.Apps)
	for i := range apps {
		apps[i] = wx.App{ID: fmt.Sprintf("wxbench%010d", i), Secret: fmt.Sprintf("secret-%d", i)}
		stub.AddApp(apps[i].ID, apps[i].Secret)
	}
	srv, err := wechatstub.Start(stub)
	if err != nil {
		return f, err
	}
	defer srv.Close()

	err = db.WithTable(ctx, func(t *apistack.Table) error {
		store := dynamo.WeChatStore{Store: dynamo.NewStore(t.Client, t.Name)}
		client := func() *wx.Client {
			return wx.New(srv.URL, wx.WithTokenStore(store), wx.WithClock(c.Now), wx.WithTokenWait(30*time.Second))
		}
		wave := func(name string) (int, error) {
			before := srv.Calls(wechatstub.StableToken)
			start := time.Now()
			var wg sync.WaitGroup
			errs := make([]error, o.Apps*o.Environments)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = client().CodeImage(ctx, apps[i%o.Apps], wx.CodeRequest{Scene: fmt.Sprintf("r=E%d", i)})
				}()
			}
			wg.Wait()
			fetches := srv.Calls(wechatstub.StableToken) - before
			fmt.Fprintf(o.Progress, "wechat: %s: %d environments, %d token fetches, %s\n", name, len(errs), fetches, time.Since(start).Round(time.Millisecond))
			if name == "first wave" {
				f.FirstWaveIn = time.Since(start)
			}
			return fetches, errors.Join(errs...)
		}
		var err error
		if f.FirstWave, err = wave("first wave"); err != nil {
			return err
		}
		c.Advance(time.Hour)
		if f.SameLife, err = wave("same lifetime"); err != nil {
			return err
		}
		c.Advance(time.Hour - wx.TokenMargin/2)
		if f.NextLife, err = wave("next lifetime"); err != nil {
			return err
		}
		for _, a := range apps {
			stub.Revoke(a.ID)
		}
		if f.Revoked, err = wave("revoked"); err != nil {
			return err
		}

		codes := func() (int, error) {
			before := srv.Calls(wechatstub.CodeImage)
			var wg sync.WaitGroup
			errs := make([]error, o.Requesters)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := wxacode.New(store, client())
					s.Wait = 30 * time.Second
					_, errs[i] = s.Image(ctx, apps[0], "pages/landing/index", "r=BENCH", 430)
				}()
			}
			wg.Wait()
			return srv.Calls(wechatstub.CodeImage) - before, errors.Join(errs...)
		}
		if f.CodeFirst, err = codes(); err != nil {
			return err
		}
		if f.CodeLater, err = codes(); err != nil {
			return err
		}
		fmt.Fprintf(o.Progress, "wechat: code image: %d calls for %d first requests, %d for as many later\n", f.CodeFirst, o.Requesters, f.CodeLater)
		f.SignIn, err = measureSignIn(ctx, t, o.SignIns)
		fmt.Fprintf(o.Progress, "wechat: sign-in: %+v\n", f.SignIn)
		return err
	})
	return f, err
}

// GoalsMet reports whether each wave fetched one token per app at most
// (none within a lifetime), one code was drawn once, and each sign-in made
// one WeChat call and at most one write.
func (f Figures) GoalsMet() bool { return len(f.problems()) == 0 }

func (f Figures) problems() []string {
	var out []string
	check := func(what string, got, want int) {
		if got != want {
			out = append(out, fmt.Sprintf("%s: %d, not %d", what, got, want))
		}
	}
	check("token fetches, first wave", f.FirstWave, f.Apps)
	check("token fetches within the lifetime", f.SameLife, 0)
	check("token fetches at the renewal point", f.NextLife, f.Apps)
	check("token fetches after a revocation (forced)", f.Revoked, f.Apps)
	check("getwxacodeunlimit calls, concurrent first requests", f.CodeFirst, 1)
	check("getwxacodeunlimit calls, later requests", f.CodeLater, 0)
	return append(out, f.SignIn.problems()...)
}

// Markdown is the report's section body.
func (f Figures) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Calls that reach the WeChat stand-in when %d execution environments per app (%d apps) start cold at "+
		"once, each with its own client and nothing shared but the table; then a wave within the token's lifetime, one "+
		"past its renewal point (5 minutes before expiry) and one after WeChat revoked every app's token. Then %d "+
		"concurrent first requests of one mini-program code, and as many later ones. Then sign-ins through "+
		"`POST /v1/auth/wechat` (the full function, a wx.login code each): one in a cold environment, %d warm.\n\n",
		f.Environments, f.Apps, f.Requesters, f.SignIn.Count)
	b.WriteString("| wave | calls | goal |\n|---|---:|---:|\n")
	fmt.Fprintf(&b, "| stable_token, all cold at once (%s) | %d | %d |\n", f.FirstWaveIn.Round(time.Millisecond), f.FirstWave, f.Apps)
	fmt.Fprintf(&b, "| stable_token, an hour on | %d | 0 |\n", f.SameLife)
	fmt.Fprintf(&b, "| stable_token, past the renewal point | %d | %d |\n", f.NextLife, f.Apps)
	fmt.Fprintf(&b, "| stable_token (force_refresh), after a revocation | %d | %d |\n", f.Revoked, f.Apps)
	fmt.Fprintf(&b, "| getwxacodeunlimit, %d first requests | %d | 1 |\n", f.Requesters, f.CodeFirst)
	fmt.Fprintf(&b, "| getwxacodeunlimit, %d later requests | %d | 0 |\n", f.Requesters, f.CodeLater)
	si := f.SignIn
	b.WriteString("\n| sign-in | WeChat calls | stable_token | DynamoDB reads | DynamoDB writes |\n|---|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| cold (first request of an environment) | %d | | %d | %d |\n", si.ColdWeChat, si.ColdReads, si.ColdWrites)
	fmt.Fprintf(&b, "| warm, %d sign-ins (reads and writes: the most of one) | %d | | %d | %d |\n", si.Count, si.WarmWeChat, si.WarmReads, si.WarmWrites)
	fmt.Fprintf(&b, "| all of them | | %d | | |\n", si.TokenFetches)
	b.WriteString("\nGoal: one WeChat call (`jscode2session`, which needs no access token) and at most one write per sign-in; " +
		"warm, one read (the role record). Cold, the clinic's mini-program is read too, then cached for a few seconds.\n")
	if p := f.problems(); len(p) > 0 {
		b.WriteString("\n**Goal missed:**\n\n")
		for _, s := range p {
			fmt.Fprintf(&b, "- %s.\n", s)
		}
	} else {
		b.WriteString("\nGoal met: one token fetch per app per lifetime (and one forced refresh), one drawing per code, " +
			"one WeChat call and one write per sign-in.\n")
	}
	return b.String()
}

// Summary is the section's verdict in a sentence.
func (f Figures) Summary() string {
	s := fmt.Sprintf("token fetches for %d apps x %d cold environments: %d, then %d, %d, %d after revocation; code calls: %d then %d; "+
		"a sign-in: %d WeChat call, %d write (warm: %d read)",
		f.Apps, f.Environments, f.FirstWave, f.SameLife, f.NextLife, f.Revoked, f.CodeFirst, f.CodeLater,
		f.SignIn.ColdWeChat, max(f.SignIn.ColdWrites, f.SignIn.WarmWrites), f.SignIn.WarmReads)
	if p := f.problems(); len(p) > 0 {
		return s + "; " + strings.Join(p, "; ")
	}
	return s
}
