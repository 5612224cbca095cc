/**
 * Test-only data: realistic stafd.conf / stacd.conf / sys.conf texts (commented
 * templates, repeated keys, inline comments, secrets with `=` padding) used as
 * seeds by the INI property tests. Not used by production code.
 */

export const STAFD_CONF = `# Configuration file for stafd (STorage Appliance Finder Daemon)
# Options are commented out; the value shown is the default.

[Global]
#tron = false
#hdr-digest = false
#data-digest = false
#kato = 30
#queue-size = 128
#reconnect-delay = 10
#ctrl-loss-tmo = 600
#disable-sqflow = false
#ignore-iface = false
#ip-family = ipv4+ipv6
#pleo = enabled
kato = 45

[Service Discovery]
#zeroconf = enabled
zeroconf = disabled

[Discovery controller connection management]
#persistent-connections = true
#zeroconf-connections-persistence = 72hours
zeroconf-connections-persistence = 1 day, 2 hours

[Controllers]
# controller = transport=tcp;traddr=192.168.1.20;trsvcid=8009
controller = transport=tcp;traddr=100.100.100.100;host-iface=enp0s8
controller = transport=tcp;traddr=fe80::1%enp0s8;dhchap-secret=DHHC-1:01:c2VjcmV0c2VjcmV0c2VjcmV0==:
exclude = host-iface=enp0s8  # keep enp0s8 for management
exclude=transport=tcp;traddr=10.10.10.10
`;

export const STACD_CONF = `; stacd configuration
[Global]
tron=true
nr-io-queues = 8
Queue-Size = 256
  kato = 120
[I/O controller connection management]
disconnect-scope = only-stas-connections
disconnect-trtypes = tcp+rdma
connect-attempts-on-ncc = 0

[Controllers]
controller = transport=tcp;traddr=1.1.1.1;nqn=nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427
controller = transport=rdma;traddr=2.2.2.2;trsvcid=4420;nqn=nqn.1988-11.com.example:array1
[Global]
ip-family = ipv4
`;

export const SYS_CONF = `# stasadm-managed host identity
[Host]
nqn = file:///etc/nvme/hostnqn
id = file:///etc/nvme/hostid
#key = file:///etc/nvme/hostkey
#symname = My Host
`;

export const SAMPLES: readonly string[] = [STAFD_CONF, STACD_CONF, SYS_CONF];
