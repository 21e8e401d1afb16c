/** The probe service both servers offer: bytes in, bytes out (no protobuf), so only the call path is measured. */
const pass = (x: Buffer) => x;

export const probeDefinition = {
  call: { path: "/kontor.bench.Probe/Call", requestStream: false, responseStream: false, requestSerialize: pass, requestDeserialize: pass, responseSerialize: pass, responseDeserialize: pass },
} as const;

/** The answer: about the size of a send's result. */
export const ACK = Buffer.alloc(60);
