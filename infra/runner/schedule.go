package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// ScheduledEvent is the payload RunSchedule delivers: the shape EventBridge
// sends for a schedule ("Scheduled Event"), with source aws.scheduler and
// the schedule's ARN as the resource.
func (s *Server) ScheduledEvent(name string, at time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         uuid.NewString(),
		DetailType: "Scheduled Event",
		Source:     "aws.scheduler",
		AccountID:  AccountID,
		Time:       at.UTC().Truncate(time.Second),
		Region:     s.region,
		Resources:  []string{fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/default/%s", s.region, AccountID, name)},
		Detail:     json.RawMessage(`{}`),
	}
}

// RunSchedule calls Invoke[name] with a scheduled event every interval until
// ctx is done, like an EventBridge schedule "rate(every)". A failed run is
// logged and the schedule goes on, as EventBridge keeps firing after a
// failed invocation. It returns an error only when name is unknown or every
// is not positive; otherwise nil once ctx is done.
func (s *Server) RunSchedule(ctx context.Context, name string, every time.Duration) error {
	fn := s.cfg.Invoke[name]
	if fn == nil {
		return fmt.Errorf("runner: schedule %q: no such function in Config.Invoke", name)
	}
	if every <= 0 {
		return fmt.Errorf("runner: schedule %q: interval must be positive", name)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			payload, err := json.Marshal(s.ScheduledEvent(name, now))
			if err != nil {
				return err
			}
			start := time.Now()
			if _, err := s.invoke(ctx, name, fn, payload); err != nil {
				s.log.Error("scheduled run failed", append([]any{"function", name}, errAttrs(err)...)...)
				continue
			}
			s.log.Info("scheduled run", "function", name, "latency", time.Since(start))
		}
	}
}
