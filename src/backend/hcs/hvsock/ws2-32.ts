/**
 * Typed view of the ws2_32.dll functions in native-defs/ws2_32.js, as the
 * hvsock worker calls them (sync, on its own thread). SOCKET arrives as a
 * number, or as a bigint when it does not fit one (INVALID_SOCKET, all ones).
 */
export type Socket = number | bigint;

export interface Winsock {
  WSAStartup(versionRequested: number, data: Buffer): number;
  WSACleanup(): number;
  WSAGetLastError(): number;
  socket(af: number, type: number, protocol: number): Socket;
  bind(s: Socket, name: Buffer, namelen: number): number;
  listen(s: Socket, backlog: number): number;
  accept(s: Socket, addr: null, addrlen: null): Socket;
  recv(s: Socket, buf: Buffer, len: number, flags: number): number;
  send(s: Socket, buf: Buffer, len: number, flags: number): number;
  shutdown(s: Socket, how: number): number;
  closesocket(s: Socket): number;
  ioctlsocket(s: Socket, cmd: number, argp: [number]): number;
  WSAPoll(fdArray: Buffer, fds: number, timeout: number): number;
}
