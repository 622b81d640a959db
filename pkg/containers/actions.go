package containers

import (
	"context"
	"fmt"
	"slices"

	"github.com/docker/docker/api/types/container"
)

// Actions are what Act does to a container, as docker start, stop,
// restart and kill do (stop and restart with the container's own stop
// signal and timeout; kill with SIGKILL).
func Actions() []string { return []string{"start", "stop", "restart", "kill"} }

// Destructive tells whether an action ends what the container is doing.
func Destructive(action string) bool { return action != "start" }

// Act does action to the container id.
func (e *Engine) Act(ctx context.Context, id, action string) error {
	var err error
	switch action {
	case "start":
		err = e.cli.ContainerStart(ctx, id, container.StartOptions{})
	case "stop":
		err = e.cli.ContainerStop(ctx, id, container.StopOptions{})
	case "restart":
		err = e.cli.ContainerRestart(ctx, id, container.StopOptions{})
	case "kill":
		err = e.cli.ContainerKill(ctx, id, "KILL")
	default:
		return fmt.Errorf("no action %q (want one of %v)", action, Actions())
	}
	if err != nil {
		// The engine's own words: "is already in progress", "No such
		// container", or why it could not be reached.
		return fmt.Errorf("%s %s on %s: %w", action, id[:min(12, len(id))], e.Host, err)
	}
	return nil
}

// IsAction tells whether action is one Act does.
func IsAction(action string) bool { return slices.Contains(Actions(), action) }
