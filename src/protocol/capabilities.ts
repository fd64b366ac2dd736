/**
 * Client capability numbers (CHG, ILN, NLN, FLN, IRO, JOI from MSNP8; `caps:extcaps` pairs from
 * MSNP16/18). The low 28 bits are feature flags, the top nibble is the MSNC version the client
 * speaks (0x5 = MSN 7.5, 0xA = WLM 2009). Bit meanings follow pidgin's msn.h, cross-checked with
 * MSNPSharp; the names are ours.
 */
import type { Fields } from './events.js'
import { parseDecimal } from './fields/common.js'

export const CLIENT_CAPABILITIES: ReadonlyArray<readonly [number, string]> = [
  [0x00000001, 'mobileOnline'],       // signed in from a Windows Mobile device
  [0x00000002, 'msnExplorer8'],
  [0x00000004, 'inkGif'],
  [0x00000008, 'inkIsf'],
  [0x00000010, 'webcam'],
  [0x00000020, 'multiPacket'],        // accepts messages split over several MSG commands
  [0x00000040, 'msnMobile'],
  [0x00000080, 'msnDirect'],
  [0x00000100, 'activities'],
  [0x00000200, 'webMessenger'],
  [0x00000400, 'mobileDevice'],
  [0x00000800, 'federated'],
  [0x00001000, 'spaces'],
  [0x00002000, 'mediaCenter'],
  [0x00004000, 'directIm'],
  [0x00008000, 'winks'],
  [0x00010000, 'sharedSearch'],
  [0x00020000, 'bot'],
  [0x00040000, 'voiceClips'],
  [0x00080000, 'secureChannel'],
  [0x00100000, 'sipInvite'],
  [0x00200000, 'multiVideoVoice'],
  [0x00400000, 'sharedFolders'],
  [0x01000000, 'oneCare'],
  [0x02000000, 'p2pTurn'],
  [0x04000000, 'p2pBootstrapViaUun'],
  [0x08000000, 'aliased'],
]

/** Extended capabilities, the number after the colon in `caps:extcaps`. */
export const EXTENDED_CAPABILITIES: ReadonlyArray<readonly [number, string]> = [
  [0x00000001, 'smsOnly'],
  [0x00000002, 'voiceOverMsnp'],
  [0x00000004, 'uucpSip'],
  [0x00000008, 'appMessages'],
  [0x00000010, 'rtcVideo'],
  [0x00000020, 'p2pV2'],
  [0x00000040, 'authWebIm'],
  [0x00000080, 'oneToOneViaGroup'],
  [0x00000100, 'offlineIm'],
  [0x00000200, 'sharingVideo'],
  [0x00000400, 'nudge'],
  [0x00000800, 'circleVoiceIm'],
  [0x00001000, 'sharing'],
  [0x00008000, 'p2pMixerRelay'],
  [0x00020000, 'conversationWindowFileTransfer'],
  [0x00040000, 'video16x9'],
  [0x00080000, 'p2pEnvelope'],
  [0x00400000, 'yahooImDisabled'],
  [0x00800000, 'sipTunnelV2'],
  [0x01000000, 'voiceClipWma'],
  [0x02000000, 'voiceClipCircleIm'],
  [0x04000000, 'socialNews'],
  [0x08000000, 'customSmiley'],
  [0x10000000, 'utf8Moods'],
  [0x20000000, 'fturn'],
  [0x40000000, 'p4Activity'],
  [0x80000000, 'multiUserChat'],
]

/** Client version by MSNC nibble: 0 = MSN 5.0 (no MSNC), 1 = MSNC1 (6.0) … 11 = MSNC11 (WLM 2011). */
export const MSNC_CLIENT_VERSIONS: readonly string[] = ['5.0', '6.0', '6.1', '6.2', '7.0', '7.5', '8.0', '8.1', '8.5', '9.0', '14.0', '15.0']

/** Flag names indexed by bit number (0-31), built once from a table. */
function byBit(table: ReadonlyArray<readonly [number, string]>): ReadonlyArray<string | undefined> {
  const out: Array<string | undefined> = new Array<string | undefined>(32).fill(undefined)
  for (const [bit, name] of table) out[31 - Math.clz32(bit)] = name
  return out
}

const CLIENT_BY_BIT = byBit(CLIENT_CAPABILITIES)
const EXTENDED_BY_BIT = byBit(EXTENDED_CAPABILITIES)

/** Visits only the set bits, lowest first: presence bursts make this a hot path. */
function names(byBitNames: ReadonlyArray<string | undefined>, value: number, mask: number): string[] {
  const out: string[] = []
  let v = (value & mask) >>> 0
  while (v !== 0) {
    const low = (v & -v) >>> 0
    const name = byBitNames[31 - Math.clz32(low)]
    if (name !== undefined) out.push(name)
    v = (v ^ low) >>> 0
  }
  return out
}

/** Names of the client capability flags set in `value` (the version nibble is not a flag). */
export const capabilityNames = (value: number): string[] => names(CLIENT_BY_BIT, value, 0x0fffffff)

/** Names of the extended capability flags set in `value`. */
export const extendedCapabilityNames = (value: number): string[] => names(EXTENDED_BY_BIT, value, 0xffffffff)

/** The MSNC version nibble (bits 28-31). */
export const msncVersion = (value: number): number => (value >>> 28) & 0xf

/**
 * Decode a capability token (`268435492` or `2789003324:48`) into `f`: capabilities,
 * capabilityFlags, msnc, clientVersion and, for a pair, extendedCapabilities and
 * extendedCapabilityFlags. Returns false (and sets nothing) when the token is not one.
 */
export function addCapabilities(f: Fields, token: string | undefined): boolean {
  if (token === undefined) return false
  const colon = token.indexOf(':')
  const value = parseDecimal(token, 0, colon < 0 ? token.length : colon)
  if (value < 0 || value > 0xffffffff) return false
  let ext = -1
  if (colon >= 0) {
    ext = parseDecimal(token, colon + 1)
    if (ext < 0 || ext > 0xffffffff) return false
  }
  f.capabilities = value
  f.capabilityFlags = capabilityNames(value)
  const msnc = msncVersion(value)
  f.msnc = msnc
  const version = MSNC_CLIENT_VERSIONS[msnc]
  if (version !== undefined) f.clientVersion = version
  if (ext >= 0) {
    f.extendedCapabilities = ext
    f.extendedCapabilityFlags = extendedCapabilityNames(ext)
  }
  return true
}
