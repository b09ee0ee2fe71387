#!/bin/sh
# Builds, by hand, the network the `nat` tests build (tests/nat/): an "internet"
# bridge with a home server on it, and two homes, each behind its own router
# that masquerades its LAN and forwards nothing new inbound (no port
# forwarding), like most home routers.
#
#                   internet  (namespace swapmesh-inet, bridge br0, 10.200.0.254)
#        ┌───────────────┬─────────────────┬──────────────────┐
#    swapmesh-server   swapmesh-router-a   swapmesh-router-b
#    10.200.0.1        wan 10.200.0.2      wan 10.200.0.3
#                      lan 192.168.1.1     lan 192.168.2.1
#                          │                   │
#                      swapmesh-home-a     swapmesh-home-b
#                      192.168.1.2         192.168.2.2
#
# Usage (as root; needs iproute2 and nftables):
#   deploy/netns/topology.sh up      build it (REFUSE=1: routers that reset)
#   deploy/netns/topology.sh down    kill what runs in it and remove it
#   deploy/netns/topology.sh show    addresses, routes and the routers' rules
# See deploy/netns/README.md for running swapmesh in it.
set -eu

# What the routers do with connections from the internet that nobody at home
# asked for: drop them silently (most home routers; DCUtR hole punching works),
# or, with REFUSE=1, refuse them with a TCP reset like OpenWrt (hole punching
# fails: the homes stay relayed).
if [ "${REFUSE:-0}" = 1 ]; then
  UNSOLICITED='meta l4proto tcp reject with tcp reset
        iifname "wan" reject'
else
  UNSOLICITED=drop
fi

P=swapmesh
INET=$P-inet
SERVER=$P-server
NAMESPACES="$INET $SERVER $P-router-a $P-home-a $P-router-b $P-home-b"

inside() { ns=$1; shift; ip netns exec "$ns" "$@"; }

# plug NS END BRIDGE_END ADDRESS: a veth from the bridge to NS, END given ADDRESS/24.
plug() {
  ip -n "$1" link add "$2" type veth peer name "$3" netns "$INET"
  ip -n "$INET" link set "$3" master br0 up
  ip -n "$1" addr add "$4/24" dev "$2"
  ip -n "$1" link set "$2" up
}

# home LETTER N: router N (wan 10.200.0.N+1) and its home LAN 192.168.N.0/24.
home() {
  router=$P-router-$1 home=$P-home-$1
  plug "$router" wan "rt$1" "10.200.0.$(($2 + 1))"
  ip -n "$router" route add default via 10.200.0.254
  ip -n "$router" link add lan type veth peer name eth0 netns "$home"
  ip -n "$router" addr add "192.168.$2.1/24" dev lan
  ip -n "$router" link set lan up
  ip -n "$home" addr add "192.168.$2.2/24" dev eth0
  ip -n "$home" link set eth0 up
  ip -n "$home" route add default via "192.168.$2.1"
  inside "$router" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
  inside "$router" nft -f - <<RULES
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" masquerade
    }
}
table ip filter {
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "wan" ct state established,related accept
        iifname "wan" $UNSOLICITED
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "lan" oifname "wan" accept
        iifname "wan" $UNSOLICITED
    }
}
RULES
}

up() {
  if [ -e "/run/netns/$INET" ]; then
    echo "already up (deploy/netns/topology.sh down removes it)" >&2
    exit 1
  fi
  trap 'echo "failed; removing what was made" >&2; down' EXIT
  for ns in $NAMESPACES; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  ip -n "$INET" link add br0 type bridge
  ip -n "$INET" addr add 10.200.0.254/24 dev br0
  ip -n "$INET" link set br0 up
  plug "$SERVER" eth0 srv 10.200.0.1
  ip -n "$SERVER" route add default via 10.200.0.254
  home a 1
  home b 2
  trap - EXIT
  echo "up: server 10.200.0.1 ($SERVER); homes 192.168.1.2 ($P-home-a), 192.168.2.2 ($P-home-b)"
}

down() {
  for ns in $NAMESPACES; do
    [ -e "/run/netns/$ns" ] || continue
    for pid in $(ip netns pids "$ns"); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns"
  done
}

show() {
  for ns in $NAMESPACES; do
    echo "== $ns"
    ip -n "$ns" -br addr
    ip -n "$ns" route
  done
  for r in a b; do
    echo "== $P-router-$r rules"
    inside "$P-router-$r" nft list ruleset
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  show) show ;;
  *) echo "usage: $0 up|down|show" >&2; exit 2 ;;
esac
