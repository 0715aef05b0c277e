package client

import (
	"context"
	"net/http"
	"net/url"
)

// ListProcesses lists an app's processes.
func (c *Client) ListProcesses(ctx context.Context, appGUID string) ([]Process, error) {
	return listAll[Process](ctx, c, "/v3/apps/"+pathEscape(appGUID)+"/processes", nil)
}

// ListProcessesForApps lists the processes of several apps at once.
func (c *Client) ListProcessesForApps(ctx context.Context, appGUIDs []string) ([]Process, error) {
	if len(appGUIDs) == 0 {
		return nil, nil
	}
	return listAll[Process](ctx, c, "/v3/processes", url.Values{"app_guids": {joinGUIDs(appGUIDs)}})
}

// GetProcess fetches a process by guid.
func (c *Client) GetProcess(ctx context.Context, guid string) (*Process, error) {
	var p Process
	if err := c.get(ctx, "/v3/processes/"+pathEscape(guid), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ScaleProcess changes the instances, memory or disk of an app's process
// type; nil values are left alone.
func (c *Client) ScaleProcess(ctx context.Context, appGUID, processType string, instances *int, memoryMB, diskMB *int64) (*Process, error) {
	body := struct {
		Instances  *int   `json:"instances,omitempty"`
		MemoryInMB *int64 `json:"memory_in_mb,omitempty"`
		DiskInMB   *int64 `json:"disk_in_mb,omitempty"`
	}{instances, memoryMB, diskMB}
	var p Process
	path := "/v3/apps/" + pathEscape(appGUID) + "/processes/" + pathEscape(processType) + "/actions/scale"
	if _, err := c.send(ctx, http.MethodPost, path, body, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ProcessStats returns the state and usage of every instance of a process.
func (c *Client) ProcessStats(ctx context.Context, processGUID string) (*ProcessStats, error) {
	var s ProcessStats
	if err := c.get(ctx, "/v3/processes/"+pathEscape(processGUID)+"/stats", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
