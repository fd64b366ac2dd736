/**
 * Link layers: where the IP header starts in a captured frame. Ethernet (with 802.1Q/802.1ad
 * tags), Linux cooked capture v1 and v2, raw IPv4/IPv6 and BSD null/loopback.
 */

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW_ALT: 12,
  RAW_OPENBSD: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const

const NAMES: ReadonlyMap<number, string> = new Map([
  [LINKTYPE.ETHERNET, 'Ethernet'],
  [LINKTYPE.LINUX_SLL, 'Linux cooked (SLL)'],
  [LINKTYPE.LINUX_SLL2, 'Linux cooked v2 (SLL2)'],
  [LINKTYPE.RAW, 'raw IP'],
  [LINKTYPE.RAW_ALT, 'raw IP'],
  [LINKTYPE.RAW_OPENBSD, 'raw IP'],
  [LINKTYPE.IPV4, 'raw IPv4'],
  [LINKTYPE.IPV6, 'raw IPv6'],
  [LINKTYPE.NULL, 'BSD loopback'],
  [LINKTYPE.LOOP, 'OpenBSD loopback'],
])

/** A few common link types msnscope does not read, named so the error message helps. */
const OTHER_NAMES: ReadonlyMap<number, string> = new Map([
  [6, 'Token Ring'], [9, 'PPP'], [10, 'FDDI'], [50, 'PPP over HDLC'], [105, 'IEEE 802.11'],
  [119, 'Prism 802.11'], [127, '802.11 radiotap'], [147, 'user-defined (DLT_USER0)'],
  [187, 'Bluetooth HCI'], [189, 'USB (Linux)'], [195, 'IEEE 802.15.4'], [220, 'USB (Linux, mmapped)'],
])

export const SUPPORTED_LINK_TYPES: readonly number[] = [...NAMES.keys()]

export const isSupportedLinkType = (linkType: number): boolean => NAMES.has(linkType)

export function linkTypeName(linkType: number): string {
  return NAMES.get(linkType) ?? OTHER_NAMES.get(linkType) ?? 'unknown'
}

const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_IPV6 = 0x86dd
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100])

/** BSD address families meaning IPv6 (they differ between the BSDs). */
const AF_INET6 = new Set([24, 28, 30, 10])

const ipByEtherType = (t: number): boolean => t === ETHERTYPE_IPV4 || t === ETHERTYPE_IPV6

/**
 * Offset of the IP header in `frame`, or -1 when the frame carries something else (ARP, other
 * protocols) or is too short.
 */
export function networkOffset(linkType: number, frame: Buffer): number {
  const n = frame.length
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      if (n < 14) return -1
      let off = 12
      let type = frame.readUInt16BE(off)
      while (VLAN_TAGS.has(type)) {
        off += 4
        if (n < off + 2) return -1
        type = frame.readUInt16BE(off)
      }
      return ipByEtherType(type) ? off + 2 : -1
    }
    case LINKTYPE.LINUX_SLL:
      return n >= 16 && ipByEtherType(frame.readUInt16BE(14)) ? 16 : -1
    case LINKTYPE.LINUX_SLL2:
      return n >= 20 && ipByEtherType(frame.readUInt16BE(0)) ? 20 : -1
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_ALT:
    case LINKTYPE.RAW_OPENBSD:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6:
      return n >= 1 ? 0 : -1
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (n < 4) return -1
      // NULL stores the family in the capturing host's byte order, LOOP in network order
      const be = frame.readUInt32BE(0)
      const le = frame.readUInt32LE(0)
      const family = linkType === LINKTYPE.LOOP ? be : Math.min(be, le)
      return family === 2 || AF_INET6.has(family) ? 4 : -1
    }
    default:
      return -1
  }
}
