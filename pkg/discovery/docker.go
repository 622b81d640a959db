package discovery

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/moby"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/util/strutil"
)

// dockerDiscoverer is Prometheus's Docker discovery, told when to look
// by the engine's events and filled in on Podman.
//
// Events: it subscribes to the engine's container start, die, destroy
// and rename events and its networks' connect and disconnect, and on one
// (a burst: after it has been quiet for a moment) runs Prometheus's
// discovery again, which looks at once. While events flow, the periodic
// refresh is only a safety net, every refresh_interval but at least a
// minute; when they fail, it is refresh_interval, as in Prometheus,
// until they are back. So a new container is found within a moment, and
// an engine where nothing changes is asked far less often.
//
// Podman: its Docker-compatible API (4.x) lists a container on the host
// network, or on none, with no networks at all, and Prometheus's
// discovery makes targets only from networks. Each such container gets
// the labels Docker's answer would have given it (its network mode from
// inspecting it), at host_networking_host on the host network. On Docker
// nothing is added.
type dockerDiscoverer struct {
	conf *moby.DockerSDConfig
	opts discovery.DiscovererOptions
	cli  *client.Client
}

// eventQuiet is how long events must stop before discovery looks again,
// so that a burst (compose up) costs one look.
const eventQuiet = 200 * time.Millisecond

// safetyNet is the shortest periodic refresh while events flow.
const safetyNet = time.Minute

func newDockerDiscoverer(conf *moby.DockerSDConfig, opts discovery.DiscovererOptions) (*dockerDiscoverer, error) {
	// Only unix:// and tcp:// hosts come here (http(s) ones keep
	// Prometheus's discovery alone, with its http_config).
	cli, err := client.NewClientWithOpts(client.WithHost(conf.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	return &dockerDiscoverer{conf: conf, opts: opts, cli: cli}, nil
}

// inner is Prometheus's Docker discovery, refreshing every interval.
func (d *dockerDiscoverer) inner(interval time.Duration) (discovery.Discoverer, error) {
	c := *d.conf
	c.RefreshInterval = model.Duration(interval)
	return moby.NewDockerDiscovery(&c, d.opts.Logger, d.opts.Metrics)
}

// Run passes Prometheus's discovery's groups on, running it again after
// events, filled on Podman.
func (d *dockerDiscoverer) Run(ctx context.Context, up chan<- []*targetgroup.Group) {
	defer d.cli.Close()
	podman := false
	if v, err := d.cli.ServerVersion(ctx); err == nil {
		podman = isPodman(v.Components)
	}
	args := filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)), filters.Arg("type", string(events.NetworkEventType)),
		filters.Arg("event", string(events.ActionStart)), filters.Arg("event", string(events.ActionDie)),
		filters.Arg("event", string(events.ActionDestroy)), filters.Arg("event", string(events.ActionRename)),
		filters.Arg("event", string(events.ActionConnect)), filters.Arg("event", string(events.ActionDisconnect)))
	var msgs <-chan events.Message
	var errs <-chan error
	subscribe := func() {
		msgs, errs = d.cli.Events(ctx, events.ListOptions{Filters: args})
	}
	// Subscribed before the first look, so that nothing starts unseen
	// between the two.
	subscribe()
	retry := time.NewTimer(0)
	retry.Stop()
	quiet := time.NewTimer(0)
	quiet.Stop()

	var stop context.CancelFunc = func() {}
	defer func() { stop() }()
	// Each run of Prometheus's discovery has a channel of its own, so
	// that an earlier run's late answer is never taken for a newer one.
	var groups chan []*targetgroup.Group
	look := func(interval time.Duration) {
		stop()
		inner, err := d.inner(interval)
		if err != nil {
			d.opts.Logger.Error("Unable to refresh target groups", "err", err.Error())
			return
		}
		var ictx context.Context
		ictx, stop = context.WithCancel(ctx)
		groups = make(chan []*targetgroup.Group)
		go inner.Run(ictx, groups)
	}
	every := time.Duration(d.conf.RefreshInterval)
	look(max(every, safetyNet))
	for {
		select {
		case <-ctx.Done():
			return
		case tgs := <-groups:
			if podman {
				d.fill(ctx, tgs)
			}
			select {
			case up <- tgs:
			case <-ctx.Done():
				return
			}
		case <-msgs:
			quiet.Reset(eventQuiet)
		case <-quiet.C:
			look(max(every, safetyNet))
		case err := <-errs:
			if ctx.Err() != nil {
				return
			}
			// No events: poll as Prometheus does, and try them again.
			d.opts.Logger.Debug("engine events failed, polling", "err", err)
			msgs, errs = nil, nil
			look(every)
			retry.Reset(every)
		case <-retry.C:
			subscribe()
			look(max(every, safetyNet))
		}
	}
}

func isPodman(cs []types.ComponentVersion) bool {
	for _, c := range cs {
		if c.Name == "Podman Engine" {
			return true
		}
	}
	return false
}

// fill adds to the Docker group the containers listed without networks.
// A failure to list or inspect adds nothing: the group stays as
// Prometheus's discovery made it.
func (d *dockerDiscoverer) fill(ctx context.Context, tgs []*targetgroup.Group) {
	var tg *targetgroup.Group
	for _, g := range tgs {
		if g != nil && g.Source == "Docker" {
			tg = g
		}
	}
	if tg == nil {
		return
	}
	args := filters.NewArgs()
	for _, f := range d.conf.Filters {
		for _, v := range f.Values {
			args.Add(f.Name, v)
		}
	}
	list, err := d.cli.ContainerList(ctx, container.ListOptions{Filters: args})
	if err != nil {
		return
	}
	for _, c := range list {
		if len(c.Names) == 0 || (c.NetworkSettings != nil && len(c.NetworkSettings.Networks) > 0) {
			continue
		}
		ins, err := d.cli.ContainerInspect(ctx, c.ID)
		if err != nil || ins.HostConfig == nil {
			continue
		}
		mode := string(ins.HostConfig.NetworkMode)
		ls := model.LabelSet{
			"__meta_docker_container_id":           model.LabelValue(c.ID),
			"__meta_docker_container_name":         model.LabelValue(c.Names[0]),
			"__meta_docker_container_network_mode": model.LabelValue(mode),
			"__meta_docker_network_ip":             "",
		}
		for k, v := range c.Labels {
			ls[model.LabelName("__meta_docker_container_label_"+strutil.SanitizeLabelName(k))] = model.LabelValue(v)
		}
		// As Prometheus's discovery addresses a container without ports.
		addr := d.conf.HostNetworkingHost
		if mode != "host" {
			addr = net.JoinHostPort("", strconv.Itoa(d.conf.Port))
		}
		ls[model.AddressLabel] = model.LabelValue(addr)
		tg.Targets = append(tg.Targets, ls)
	}
}
