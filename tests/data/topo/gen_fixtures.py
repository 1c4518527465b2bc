#!/usr/bin/env python3
"""Writes the synthetic hwloc v2 XML machines the topology tests load (run from this folder).

These are made-up machines, written for Braid's tests (not captures): the shapes that matter
for planning, with hwloc's XML conventions (cpusets, PCI bridges, OS devices, an NVLink
bandwidth matrix as hwloc's NVML backend exports it).

  dgx-8gpu-nvswitch.xml  2 sockets, 4 PCIe switches each with 2 GPUs + 2 InfiniBand NICs,
                         6 NVSwitches, NVLinkBandwidth matrix (GPU <-> NVSwitch)
  pcie-4gpu-2switch.xml  1 socket, 4 GPUs under two PCIe switches, the only NIC under the
                         second switch, no NVLink
  cpu-2socket.xml        2 sockets x 16 cores, one Ethernet NIC on socket 0
  laptop.xml             4 cores, an integrated GPU (display only) and Wi-Fi
"""


class Gen:
    def __init__(self):
        self.gp = 1
        self.out = []

    def next_gp(self):
        self.gp += 1
        return self.gp

    def line(self, depth, text):
        self.out.append("  " * depth + text)


def mask(lo, n):
    return "0x%08x" % (((1 << n) - 1) << lo)


def machine(path, host, packages, cores_per_pkg, io_for_pkg, nvlink=None):
    g = Gen()
    total = packages * cores_per_pkg
    allmask = mask(0, total)
    nodes = mask(0, packages)
    g.line(0, '<?xml version="1.0" encoding="UTF-8"?>')
    g.line(0, '<!DOCTYPE topology SYSTEM "hwloc2.dtd">')
    g.line(0, '<topology version="2.0">')
    g.line(1, '<object type="Machine" os_index="0" cpuset="%s" complete_cpuset="%s" '
              'allowed_cpuset="%s" nodeset="%s" complete_nodeset="%s" allowed_nodeset="%s" '
              'gp_index="1">' % (allmask, allmask, allmask, nodes, nodes, nodes))
    g.line(2, '<info name="HostName" value="%s"/>' % host)
    refs = {}
    for p in range(packages):
        cs = mask(p * cores_per_pkg, cores_per_pkg)
        ns = mask(p, 1)
        attrs = 'cpuset="%s" complete_cpuset="%s" nodeset="%s" complete_nodeset="%s"' % (cs, cs, ns, ns)
        g.line(2, '<object type="Package" os_index="%d" %s gp_index="%d">' % (p, attrs, g.next_gp()))
        g.line(3, '<info name="CPUModel" value="Synthetic CPU %d-core"/>' % cores_per_pkg)
        g.line(3, '<object type="NUMANode" os_index="%d" %s gp_index="%d" local_memory="%d"/>'
               % (p, attrs, g.next_gp(), 256 << 30))
        for c in range(cores_per_pkg):
            cpu = p * cores_per_pkg + c
            m = mask(cpu, 1)
            a = 'cpuset="%s" complete_cpuset="%s" nodeset="%s" complete_nodeset="%s"' % (m, m, ns, ns)
            g.line(3, '<object type="Core" os_index="%d" %s gp_index="%d">' % (cpu, a, g.next_gp()))
            g.line(4, '<object type="PU" os_index="%d" %s gp_index="%d"/>' % (cpu, a, g.next_gp()))
            g.line(3, '</object>')
        io_for_pkg(g, p, refs)
        g.line(2, '</object>')
    g.line(1, '</object>')
    if nvlink:
        objs, values = nvlink(refs)
        idx = " ".join(objs) + " "
        vals = " ".join(str(v) for v in values) + " "
        g.line(1, '<distances2hetero nbobjs="%d" kind="25" name="NVLinkBandwidth">' % len(objs))
        g.line(2, '<indexes length="%d">%s</indexes>' % (len(idx), idx))
        # hwloc writes at most 10 values per element.
        for i in range(0, len(values), 10):
            chunk = " ".join(str(v) for v in values[i:i + 10]) + " "
            g.line(2, '<u64values length="%d">%s</u64values>' % (len(chunk), chunk))
        g.line(1, '</distances2hetero>')
    g.line(0, '</topology>')
    with open(path, "w") as f:
        f.write("\n".join(g.out) + "\n")


def host_bridge_open(g, d, dom, lo, hi):
    g.line(d, '<object type="Bridge" gp_index="%d" bridge_type="0-1" depth="0" '
              'bridge_pci="%04x:[%02x-%02x]">' % (g.next_gp(), dom, lo, hi))


def bridge_open(g, d, busid, lo, hi, vendev, depth, speed=15.753846):
    g.line(d, '<object type="Bridge" gp_index="%d" bridge_type="1-1" depth="%d" '
              'bridge_pci="0000:[%02x-%02x]" pci_busid="%s" pci_type="0604 [%s] [0000:0000] 00" '
              'pci_link_speed="%f">' % (g.next_gp(), depth, lo, hi, busid, vendev, speed))


def pcidev(g, d, busid, cls, vendev, name, osdevs, speed=31.507692):
    gp = g.next_gp()
    g.line(d, '<object type="PCIDev" gp_index="%d" pci_busid="%s" pci_type="%s [%s] [0000:0000] 00" '
              'pci_link_speed="%f">' % (gp, busid, cls, vendev, speed))
    g.line(d + 1, '<info name="PCIDevice" value="%s"/>' % name)
    ref = {"pci": "PCIDev:%d" % gp}
    for (oname, otype, sub) in osdevs:
        ogp = g.next_gp()
        s = ' subtype="%s"' % sub if sub else ""
        g.line(d + 1, '<object type="OSDev" gp_index="%d" name="%s"%s osdev_type="%d"/>'
               % (ogp, oname, s, otype))
        ref[oname] = "OSDev:%d" % ogp
    g.line(d, '</object>')
    return ref


GPU_OS, NET_OS, OFED_OS = 1, 2, 3


def dgx():
    def io(g, p, refs):
        for hb in range(2):
            sw = p * 2 + hb
            bus = 0x10 + sw * 0x20
            host_bridge_open(g, 3, 0, bus, bus + 8)
            bridge_open(g, 4, "0000:%02x:00.0" % bus, bus + 1, bus + 8, "8086:2030", 1)
            bridge_open(g, 5, "0000:%02x:00.0" % (bus + 1), bus + 2, bus + 8, "1000:c010", 2)
            for k in range(4):
                dbus = bus + 3 + k
                bridge_open(g, 6, "0000:%02x:%02x.0" % (bus + 2, k), dbus, dbus, "1000:c010", 3)
                if k < 2:
                    gi = sw * 2 + k
                    refs["gpu%d" % gi] = pcidev(
                        g, 7, "0000:%02x:00.0" % dbus, "0302", "10de:20b0", "A100-SXM4-80GB",
                        [("nvml%d" % gi, GPU_OS, "NVML"), ("cuda%d" % gi, 5, "CUDA")])
                else:
                    ni = sw * 2 + (k - 2)
                    pcidev(g, 7, "0000:%02x:00.0" % dbus, "0207", "15b3:101b", "ConnectX-6",
                           [("ib%d" % ni, NET_OS, None), ("mlx5_%d" % ni, OFED_OS, "OpenFabrics")],
                           speed=31.507692)
                g.line(6, '</object>')
            g.line(5, '</object>')
            g.line(4, '</object>')
            g.line(3, '</object>')
        if p == 1:
            host_bridge_open(g, 3, 0, 0x90, 0x96)
            for s in range(6):
                refs["sw%d" % s] = pcidev(g, 4, "0000:90:%02x.0" % (s + 1), "0680", "10de:1af1",
                                          "A100 NVSwitch", [], speed=2.0)
            g.line(3, '</object>')

    def nvlink(refs):
        objs = [refs["gpu%d" % i]["nvml%d" % i] for i in range(8)] + \
               [refs["sw%d" % s]["pci"] for s in range(6)]
        n = len(objs)
        vals = []
        for i in range(n):
            for j in range(n):
                gi, gj = i < 8, j < 8
                vals.append(50000 if gi != gj else 0)
        return objs, vals

    machine("dgx-8gpu-nvswitch.xml", "synthetic-dgx", 2, 8, io, nvlink)


def pcie_box():
    def io(g, p, refs):
        host_bridge_open(g, 3, 0, 0x00, 0x0f)
        for sw in range(2):
            root = 0x01 + sw * 6
            bridge_open(g, 4, "0000:00:%02x.0" % (1 + sw), root, root + 5, "8086:6f02", 1)
            bridge_open(g, 5, "0000:%02x:00.0" % root, root + 1, root + 5, "10b5:8747", 2)
            devs = 3 if sw == 1 else 2
            for k in range(devs):
                dbus = root + 2 + k
                bridge_open(g, 6, "0000:%02x:%02x.0" % (root + 1, k), dbus, dbus, "10b5:8747", 3)
                if k < 2:
                    gi = sw * 2 + k
                    pcidev(g, 7, "0000:%02x:00.0" % dbus, "0302", "10de:1eb8", "Tesla T4",
                           [("cuda%d" % gi, 5, "CUDA"), ("card%d" % gi, GPU_OS, None)], speed=15.753846)
                else:
                    pcidev(g, 7, "0000:%02x:00.0" % dbus, "0200", "15b3:1017", "ConnectX-5 Ethernet",
                           [("enp%ds0" % dbus, NET_OS, None), ("mlx5_0", OFED_OS, "OpenFabrics")],
                           speed=15.753846)
                g.line(6, '</object>')
            g.line(5, '</object>')
            g.line(4, '</object>')
        g.line(3, '</object>')

    machine("pcie-4gpu-2switch.xml", "synthetic-pcie-box", 1, 8, io)


def cpu_node():
    def io(g, p, refs):
        if p != 0:
            return
        host_bridge_open(g, 3, 0, 0x00, 0x02)
        bridge_open(g, 4, "0000:00:1c.0", 0x01, 0x01, "8086:a190", 1)
        pcidev(g, 5, "0000:01:00.0", "0200", "8086:1572", "Ethernet Controller X710 for 10GbE SFP+",
               [("eno1", NET_OS, None)], speed=7.876923)
        g.line(4, '</object>')
        g.line(3, '</object>')

    machine("cpu-2socket.xml", "synthetic-cpu-node", 2, 16, io)


def laptop():
    def io(g, p, refs):
        host_bridge_open(g, 3, 0, 0x00, 0x01)
        pcidev(g, 4, "0000:00:02.0", "0300", "8086:9a49", "TigerLake-LP GT2 [Iris Xe Graphics]",
               [("card0", GPU_OS, None), ("renderD128", GPU_OS, None)], speed=0)
        pcidev(g, 4, "0000:00:14.3", "0280", "8086:a0f0", "Wi-Fi 6 AX201",
               [("wlp0s20f3", NET_OS, None)], speed=0)
        g.line(3, '</object>')

    machine("laptop.xml", "synthetic-laptop", 1, 4, io)


if __name__ == "__main__":
    dgx()
    pcie_box()
    cpu_node()
    laptop()
