package boot_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genai-os/genai-build/internal/build"
	"github.com/genai-os/genai-build/internal/qemu"
)

// TestNetwork boots the server ISO with a virtio NIC on QEMU's user network: coldplug must load
// virtio_net (and skip the drivers of hardware the q35 machine lacks), and the init must get
// QEMU's DHCP lease (10.0.2.15/24 via 10.0.2.2, DNS 10.0.2.3) and write /etc/resolv.conf. The
// image has a boot unit ordered after network-online.target: the boot waits for the network, and
// the unit sees its resolver configuration.
func TestNetwork(t *testing.T) {
	needQEMU(t)
	res := buildISO(t, "network", build.Options{ExtraOverlays: []string{"testdata/network-online"}})
	m := startVM(t, qemu.Config{Image: res.Image, Firmware: qemu.BIOS, Media: qemu.CD, Net: true}, 5*time.Minute)
	chooseDebug(t, m)
	// A boot unit waits for network-online.target: the network line comes before the ready line.
	line, err := m.WaitFor(regexp.MustCompile(`genai-os: (ready edition=server .*|network iface=\S+ addr=\S+ gw=\S+ via=\S+)`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", line)
	if !regexp.MustCompile(`genai-os: network .*addr=10\.0\.2\.15/24 gw=10\.0\.2\.2 via=dhcp`).MatchString(line) {
		t.Fatalf("first line %q: want the network line, addr=10.0.2.15/24 gw=10.0.2.2 via=dhcp, before the ready line", line)
	}
	ready, err := m.WaitFor(regexp.MustCompile(`genai-os: ready edition=server .*`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", ready)
	// sshd.socket, online.service and the network-online.target it pulled in.
	if !strings.Contains(ready, "services=3/3 ") {
		t.Errorf("ready line %q: want services=3/3", ready)
	}

	// The modules line comes when coldplug has settled, which may be after the network line.
	modRe := regexp.MustCompile(`modules loaded ok=([0-9]+) failed=([0-9]+) skipped=([0-9]+) ms=([0-9]+)`)
	line, err = m.Find(modRe, time.Minute)
	if err != nil {
		t.Fatalf("no modules line: %v; console:\n%s", err, m.Console())
	}
	mod := modRe.FindStringSubmatch(line)
	t.Logf("%s", mod[0])
	if mod[2] != "0" {
		t.Errorf("%s: want no failed module", mod[0])
	}
	// q35 has no PIIX IDE, e1000, e1000e, NVMe, virtio-blk or virtio-scsi here: their drivers are skipped.
	if n, _ := strconv.Atoi(mod[3]); n < 3 {
		t.Errorf("%s: want at least 3 modules skipped for hardware the machine lacks", mod[0])
	}

	if err := m.Expect("$ ", time.Minute); err != nil {
		t.Fatalf("no shell prompt: %v\n%s", err, m.Console())
	}
	from := m.Mark()
	if err := m.Send("cat /etc/resolv.conf\r"); err != nil {
		t.Fatal(err)
	}
	if err := m.Expect("\n$ ", time.Minute); err != nil {
		t.Fatalf("no prompt after cat: %v\n%s", err, m.Console())
	}
	if out := m.Since(from); !strings.Contains(out, "nameserver 10.0.2.3") {
		t.Errorf("/etc/resolv.conf:\n%s\nwant nameserver 10.0.2.3", out)
	}
	// The unit ran after the network was configured: it saw the resolver.
	from = m.Mark()
	if err := m.Send("consciousness-manager logs online.service\r"); err != nil {
		t.Fatal(err)
	}
	if err := m.Expect("\n$ ", time.Minute); err != nil {
		t.Fatalf("no prompt after logs: %v\n%s", err, m.Console())
	}
	if out := m.Since(from); !strings.Contains(out, "nameserver 10.0.2.3") {
		t.Errorf("online.service's log:\n%s\nwant the resolver it read after network-online.target", out)
	}
	if err := m.Send("consciousness-manager poweroff\r"); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(); err != nil {
		t.Fatalf("after poweroff: %v", err)
	}
}
