package messages

// RouterRegister is gorouter's RegistryMessage, used for both
// router.register and router.unregister. All fields are optional on the
// wire; Validate requires what ingot's router needs to route.
type RouterRegister struct {
	Host                    string            `json:"host"`
	Port                    uint16            `json:"port"`
	TLSPort                 uint16            `json:"tls_port,omitempty"`
	URIs                    []string          `json:"uris"`
	App                     string            `json:"app,omitempty"`
	PrivateInstanceID       string            `json:"private_instance_id,omitempty"`
	PrivateInstanceIndex    string            `json:"private_instance_index,omitempty"`
	Tags                    map[string]string `json:"tags,omitempty"`
	StaleThresholdInSeconds int               `json:"stale_threshold_in_seconds,omitempty"`
	RouteServiceURL         string            `json:"route_service_url,omitempty"`
	Protocol                string            `json:"protocol,omitempty"`
	AvailabilityZone        string            `json:"availability_zone,omitempty"`
	IsolationSegment        string            `json:"isolation_segment,omitempty"`
	EndpointUpdatedAtNs     int64             `json:"endpoint_updated_at_ns,omitempty"`
	Options                 map[string]string `json:"options,omitempty"`
	ServerCertDomainSAN     string            `json:"server_cert_domain_san,omitempty"`
}

func (m *RouterRegister) Validate() error {
	if m.Host == "" {
		return invalid("router.register: host is required")
	}
	if m.Port == 0 && m.TLSPort == 0 {
		return invalid("router.register: port is required")
	}
	if len(m.URIs) == 0 {
		return invalid("router.register: uris is required")
	}
	for _, u := range m.URIs {
		if u == "" {
			return invalid("router.register: empty uri")
		}
	}
	return nil
}

// RouterStart is published by routers at start and after every reconnect,
// and is the reply to router.greet.
type RouterStart struct {
	ID                               string   `json:"id"`
	Hosts                            []string `json:"hosts"`
	MinimumRegisterIntervalInSeconds int      `json:"minimumRegisterIntervalInSeconds"`
	PruneThresholdInSeconds          int      `json:"pruneThresholdInSeconds"`
}

func (m *RouterStart) Validate() error {
	if m.MinimumRegisterIntervalInSeconds < 0 || m.PruneThresholdInSeconds < 0 {
		return invalid("router.start: negative interval")
	}
	return nil
}
