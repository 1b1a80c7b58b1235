package status

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the fleet as indented JSON.
func WriteJSON(w io.Writer, f Fleet) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// WriteText writes the fleet as tables a person reads.
func WriteText(w io.Writer, f Fleet, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	queue := func(q Queue) {
		age := "n/a (no data point in CloudWatch)"
		if q.OldestAgeSeconds != nil {
			age = (time.Duration(*q.OldestAgeSeconds) * time.Second).String()
		}
		p("  queue\tvisible %d\tin flight %d\tdead letters %d\toldest %s", q.Visible, q.InFlight, q.DeadLetters, age)
	}
	p("REGION\t%s", f.Region.Stack)
	queue(f.Region.Queue)
	if f.Region.Unrouted > 0 {
		p("  unrouted\t%d message(s) without a known location", f.Region.Unrouted)
	}
	s := f.Region.Service
	p("  service %s\tdesired %d\trunning %d\tpending %d", s.Name, s.Desired, s.Running, s.Pending)
	for _, site := range f.Sites {
		p("")
		p("SITE\t%s", site.Stack)
		if site.Queue != nil {
			queue(*site.Queue)
		}
		s := site.Service
		p("  service %s\tdesired %d\trunning %d\tpending %d", s.Name, s.Desired, s.Running, s.Pending)
		if len(site.Activations) == 0 {
			p("  activation\tnone found with tag stretched:stack=%s", site.Stack)
		}
		for _, a := range site.Activations {
			state := "expires in " + a.Expires.Sub(now).Round(time.Hour).String()
			if a.Expired || !a.Expires.After(now) {
				state = "EXPIRED"
			}
			p("  activation %s\t%s (%s)\tregistrations %d of %d", a.ID, a.Expires.Format(time.RFC3339), state, a.Registrations, a.RegistrationLimit)
		}
		p("  MANAGED INSTANCE\tNAME\tPING\tLAST PING\tAGENT\tPLATFORM")
		for _, m := range site.ManagedInstances {
			p("  %s\t%s\t%s\t%s\t%s\t%s", m.ID, m.Name, m.PingStatus, m.LastPing.Format(time.RFC3339), m.AgentVersion, m.Platform)
		}
		p("  CONTAINER INSTANCE\tNODE\tAGENT\tRUNNING TASKS\tSTATUS")
		for _, c := range site.ContainerInstances {
			agent := "connected"
			if !c.AgentConnected {
				agent = "DISCONNECTED"
			}
			p("  %s\t%s\t%s\t%d\t%s", c.ID, c.Node, agent, c.RunningTasks, c.Status)
		}
	}
	p("")
	if f.Healthy {
		p("HEALTHY")
	} else {
		p("UNHEALTHY:\n  - %s", strings.Join(f.Problems, "\n  - "))
	}
	return tw.Flush()
}
