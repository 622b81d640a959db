package discovery

import (
	"context"
	"net"
	"strconv"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/moby"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/util/strutil"
)

// podmanFill runs Prometheus's Docker discovery and adds the containers
// it cannot see on Podman: Podman's Docker-compatible API (4.x) lists a
// container on the host network, or on none, with no networks at all,
// and Prometheus's discovery makes targets only from networks. Each such
// container gets the labels Docker's answer would have given it (its
// network mode from inspecting it), at host_networking_host on the host
// network. On Docker nothing is added, and nothing is asked beyond what
// Prometheus's discovery asks, after one version call.
type podmanFill struct {
	inner discovery.Discoverer
	conf  *moby.DockerSDConfig
	cli   *client.Client
}

func newPodmanFill(inner discovery.Discoverer, conf *moby.DockerSDConfig) (*podmanFill, error) {
	// Only unix:// and tcp:// reach here from monctl (Engine.Socket);
	// an http(s) host keeps Prometheus's client alone.
	cli, err := client.NewClientWithOpts(client.WithHost(conf.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	return &podmanFill{inner: inner, conf: conf, cli: cli}, nil
}

// Run passes the inner discovery's groups on, filled on Podman.
func (p *podmanFill) Run(ctx context.Context, up chan<- []*targetgroup.Group) {
	defer p.cli.Close()
	ch := make(chan []*targetgroup.Group)
	go p.inner.Run(ctx, ch)
	podman := -1 // not known yet
	for {
		select {
		case <-ctx.Done():
			return
		case tgs := <-ch:
			if podman < 0 {
				podman = 0
				if v, err := p.cli.ServerVersion(ctx); err == nil && isPodman(v.Components) {
					podman = 1
				}
			}
			if podman == 1 {
				p.fill(ctx, tgs)
			}
			select {
			case up <- tgs:
			case <-ctx.Done():
				return
			}
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
func (p *podmanFill) fill(ctx context.Context, tgs []*targetgroup.Group) {
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
	for _, f := range p.conf.Filters {
		for _, v := range f.Values {
			args.Add(f.Name, v)
		}
	}
	list, err := p.cli.ContainerList(ctx, container.ListOptions{Filters: args})
	if err != nil {
		return
	}
	for _, c := range list {
		if len(c.Names) == 0 || (c.NetworkSettings != nil && len(c.NetworkSettings.Networks) > 0) {
			continue
		}
		ins, err := p.cli.ContainerInspect(ctx, c.ID)
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
		addr := p.conf.HostNetworkingHost
		if mode != "host" {
			addr = net.JoinHostPort("", strconv.Itoa(p.conf.Port))
		}
		ls[model.AddressLabel] = model.LabelValue(addr)
		tg.Targets = append(tg.Targets, ls)
	}
}
