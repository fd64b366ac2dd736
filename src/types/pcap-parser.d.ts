/** The parts of pcap-parser (a CommonJS module without types) that msnscope uses. */
declare module 'pcap-parser' {
  import type { EventEmitter } from 'node:events'

  export interface GlobalHeader {
    magicNumber: number
    majorVersion: number
    minorVersion: number
    gmtOffset: number
    timestampAccuracy: number
    snapshotLength: number
    linkLayerType: number
  }

  export interface PacketHeader {
    timestampSeconds: number
    timestampMicroseconds: number
    capturedLength: number
    originalLength: number
  }

  export interface Packet {
    header: PacketHeader
    data: Buffer
  }

  /** Emits globalHeader, packetHeader, packet, error and end. */
  export interface Parser extends EventEmitter {
    on(event: 'globalHeader', listener: (header: GlobalHeader) => void): this
    on(event: 'packetHeader', listener: (header: PacketHeader) => void): this
    on(event: 'packet', listener: (packet: Packet) => void): this
    on(event: 'error', listener: (err: Error) => void): this
    on(event: 'end', listener: () => void): this
  }

  /** A file name, or a stream-like emitter of 'data', 'error' and 'end' with pause() and resume(). */
  export function parse(input: string | EventEmitter): Parser

  const pcapParser: { parse: typeof parse }
  export default pcapParser
}
