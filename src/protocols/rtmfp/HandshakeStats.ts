/**
 * Counters of the startup responder (`RtmfpHandshake.stats`): what came in, what was decided, and
 * every reason a datagram was dropped. Plain numbers on one fixed-shape object, cheap to bump on
 * a flood and to snapshot for logs or a test.
 */
export class HandshakeStats {
  // Received.
  ihello = 0;
  iikeying = 0;
  // Decided / built.
  rhello = 0;
  redirect = 0;
  urlDecisions = 0;
  peerDecisions = 0;
  keyingDecisions = 0;
  repeatedKeying = 0;
  // Dropped.
  /** Not a startup packet: wrong SSID, size, checksum or mode. */
  badDatagram = 0;
  /** A startup packet without IHello or IIKeying. */
  unknownChunk = 0;
  /** IHello or IIKeying fields truncated, or a tag over 64 bytes. */
  badChunk = 0;
  /** Endpoint discriminator malformed or naming nothing. */
  badEpd = 0;
  cookieForged = 0;
  cookieExpired = 0;
  /** A genuine cookie presented from another address than it was issued to. */
  cookieOtherAddress = 0;
  /** A cookie already used by another IIKeying (other session ID or key component). */
  cookieReused = 0;
  /** A repeated IIKeying while its first copy is still being computed or answered. */
  keyingBusy = 0;
  /** Certificate or SKIC malformed, no group selected, or no key for it. */
  badKeying = 0;
  unsupportedGroup = 0;
  /** The client's DH public key failed validation. */
  badPublicKey = 0;
  /** More than `maxKeyingInFlight` DH computations at once. */
  overloaded = 0;
  /** IIKeying dropped: its address had RTMFP.maxHandshakesPerAddress DH running already. */
  addressBusy = 0;
  /** `computeKeys` rejected (a worker pool gone...), or an unexpected exception (a bug). */
  errors = 0;

  /** Every drop reason summed. */
  get dropped(): number {
    return (
      this.badDatagram +
      this.unknownChunk +
      this.badChunk +
      this.badEpd +
      this.cookieForged +
      this.cookieExpired +
      this.cookieOtherAddress +
      this.cookieReused +
      this.keyingBusy +
      this.badKeying +
      this.unsupportedGroup +
      this.badPublicKey +
      this.overloaded +
      this.errors
    );
  }
}
