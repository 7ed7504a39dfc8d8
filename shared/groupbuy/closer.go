package groupbuy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/laoyou/laoyou/shared/apierr"
)

// CloseOptions bound one closer run. Zero values take the defaults.
type CloseOptions struct {
	// MaxRooms stops a run from taking more rooms; the next run (a minute
	// later) takes the rest.
	MaxRooms int
	// Workers settle rooms in parallel.
	Workers int
	// Margin is left of the invocation's deadline: no room is taken after
	// it, so a run ends before Lambda stops it.
	Margin time.Duration
	// OnError is told of a room that could not be settled this run; it
	// stays on the expiry index and the next run tries again.
	OnError func(ctx context.Context, groupID string, err error)
}

// CloseReport is what one closer run did.
type CloseReport struct {
	Settled   int
	Succeeded int
	Failed    int
	Skipped   int // settled by another run meanwhile
	Examined  int // expiry index entries read
	Errors    int // rooms left for the next run
}

// CloseExpired settles the rooms past their expiry: SUCCEEDED with at least
// minSize members, else FAILED with their seats returned. It reads only the
// expiry index's entries that are due, so its work grows with expired rooms,
// not with all rooms. Each settlement is one transaction conditional on the
// room still being open and as read, so two runs at once settle each room
// once, and a run that dies midway leaves the rest on the index for the next.
func (s *Service) CloseExpired(ctx context.Context, opt CloseOptions) (CloseReport, error) {
	const op = apierr.Op("groupbuy.CloseExpired")
	opt = opt.withDefaults()
	now := s.Now()
	listCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		listCtx, cancel = context.WithDeadline(ctx, deadline.Add(-opt.Margin))
		defer cancel()
	}
	due, listed := s.listDue(listCtx, now, opt.MaxRooms)
	report := s.settleDue(ctx, due, now, opt)
	report.Examined = int(listed.examined.Load())
	if len(listed.errs) > 0 {
		return report, apierr.E(op, errors.Join(listed.errs...))
	}
	return report, nil
}

// withDefaults fills in the options left zero.
func (opt CloseOptions) withDefaults() CloseOptions {
	if opt.MaxRooms <= 0 {
		opt.MaxRooms = 20_000
	}
	if opt.Workers <= 0 {
		opt.Workers = 16
	}
	if opt.Margin <= 0 {
		opt.Margin = 5 * time.Second
	}
	return opt
}

// dueListing is what listing the due rooms read; it is complete once the
// channel of due rooms is closed.
type dueListing struct {
	examined atomic.Int64
	mu       sync.Mutex
	errs     []error
}

// listDue sends the due rooms of every shard, at most maxRooms of them,
// until ctx ends. Every shard is listed at once and every listing error
// kept: a shard that fails leaves its rooms for the next run, not the
// other shards'.
func (s *Service) listDue(ctx context.Context, now time.Time, maxRooms int) (<-chan string, *dueListing) {
	var (
		listed  dueListing
		taken   atomic.Int64
		due     = make(chan string)
		listing errgroup.Group
	)
	for shard := 0; shard < s.Store.ExpiryShards(); shard++ {
		listing.Go(func() error {
			n, err := s.Store.ExpiredRooms(ctx, shard, now, func(groupID string) bool {
				if taken.Add(1) > int64(maxRooms) {
					return false
				}
				select {
				case due <- groupID:
					return true
				case <-ctx.Done():
					return false
				}
			})
			listed.examined.Add(int64(n))
			if err != nil && ctx.Err() == nil {
				listed.mu.Lock()
				listed.errs = append(listed.errs, err)
				listed.mu.Unlock()
			}
			return nil
		})
	}
	go func() { _ = listing.Wait(); close(due) }()
	return due, &listed
}

// settleDue settles the rooms sent on due, opt.Workers at once. A room
// that fails is counted and told to OnError, not returned: it must not
// stop the others.
func (s *Service) settleDue(ctx context.Context, due <-chan string, now time.Time, opt CloseOptions) CloseReport {
	var (
		report   CloseReport
		mu       sync.Mutex
		settling errgroup.Group
	)
	settling.SetLimit(opt.Workers)
	for groupID := range due {
		settling.Go(func() error {
			outcome, err := s.settle(ctx, groupID, now)
			mu.Lock()
			switch {
			case err != nil:
				report.Errors++
			case outcome == Succeeded:
				report.Settled++
				report.Succeeded++
			case outcome == Failed:
				report.Settled++
				report.Failed++
			default:
				report.Skipped++
			}
			mu.Unlock()
			if err != nil && opt.OnError != nil {
				opt.OnError(ctx, groupID, err)
			}
			return nil
		})
	}
	_ = settling.Wait()
	return report
}

// settle settles one room if it is still open and due; outcome "" means
// there was nothing to do (another run settled it, or it filled).
func (s *Service) settle(ctx context.Context, groupID string, now time.Time) (Status, error) {
	r, err := s.Store.Room(ctx, groupID, true)
	if err != nil {
		return "", err
	}
	for attempt := 0; attempt < 4; attempt++ {
		if r == nil || r.Status != Open || !r.ExpiredAt(now) {
			return "", nil
		}
		outcome := r.Outcome()
		refused, err := s.Store.SettleRoom(ctx, Settlement{Seen: *r, Outcome: outcome, Now: now, Event: settledEvent(r, outcome, now)})
		if err != nil {
			return "", err
		}
		if refused == nil {
			return outcome, nil
		}
		r = refused // a join landed just before expiry, or another run settled it
	}
	return "", apierr.E(apierr.Op("groupbuy.settle"), apierr.Unavailable, "room kept changing")
}
