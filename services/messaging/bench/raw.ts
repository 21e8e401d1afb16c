/** The bench's transport-only service: bytes in, bytes out, what grpc-js itself costs on this machine. */
const pass = (x: Buffer) => x;

export const rawDefinition = {
  unary: { path: "/kontor.bench.Raw/Unary", requestStream: false, responseStream: false, requestSerialize: pass, requestDeserialize: pass, responseSerialize: pass, responseDeserialize: pass },
  stream: { path: "/kontor.bench.Raw/Stream", requestStream: true, responseStream: true, requestSerialize: pass, requestDeserialize: pass, responseSerialize: pass, responseDeserialize: pass },
} as const;
