/**
 * Node's own Buffer decoders, which Buffer#toString calls after checking its arguments: hot paths
 * (every command line, TCP segment key and header block) call them directly with bounds they
 * already know to be valid.
 */
export interface SliceableBuffer extends Buffer {
  latin1Slice(start: number, end: number): string
  utf8Slice(start: number, end: number): string
}
