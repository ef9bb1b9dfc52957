package systemd

import (
	"context"
	"fmt"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// Target is the unit that starts the autostart VMs at boot.
const Target = "microvms.target"

// Activate makes a running systemd use freshly installed units: it
// enables Target (its [Install] section: wanted by multi-user.target, so
// the autostart VMs start at boot) and reloads, as `systemctl enable`
// followed by `systemctl daemon-reload` would, over D-Bus. Enabling an
// enabled target changes nothing.
func Activate(ctx context.Context) error {
	conn, err := sddbus.NewWithContext(ctx)
	if err != nil {
		return fmt.Errorf("connecting to systemd over D-Bus: %w", err)
	}
	defer conn.Close()
	if _, _, err := conn.EnableUnitFilesContext(ctx, []string{Target}, false, true); err != nil {
		return fmt.Errorf("enabling %s: %w", Target, err)
	}
	if err := conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("reloading systemd: %w", err)
	}
	return nil
}
