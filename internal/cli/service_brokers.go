package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCreateServiceBrokerCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "create-service-broker NAME USERNAME PASSWORD URL",
		Short: "Register an Open Service Broker and fetch its catalog",
		Args:  usageArgs(cobra.ExactArgs(4)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Creating service broker %s as %s...\n", args[0], s.user())
			if err := s.c.CreateServiceBroker(cmd.Context(), args[0], args[3], args[1], args[2]); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}

func newServiceBrokersCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "service-brokers",
		Short: "List the service brokers",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Getting service brokers as %s...\n\n", s.user())
			bs, err := s.c.ListServiceBrokers(cmd.Context())
			if err != nil {
				return err
			}
			if len(bs) == 0 {
				s.printf("No service brokers found.\n")
				return nil
			}
			t := newTable(s.out, 3)
			fmt.Fprintf(t, "name\turl\n")
			for _, b := range bs {
				fmt.Fprintf(t, "%s\t%s\n", b.Name, b.URL)
			}
			return t.Flush()
		},
	}
}

func newUpdateServiceBrokerCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "update-service-broker NAME USERNAME PASSWORD URL",
		Short: "Change a service broker's URL and credentials and refresh its catalog",
		Args:  usageArgs(cobra.ExactArgs(4)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Updating service broker %s as %s...\n", args[0], s.user())
			b, err := s.c.GetServiceBrokerByName(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := s.c.UpdateServiceBroker(cmd.Context(), b.GUID, "", args[3], args[1], args[2]); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}
