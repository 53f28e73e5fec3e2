/**
 * The recorded RTMFP vectors (../shared/vectors/rtmfp) through both implementations: every Flash
 * Player 11.7 packet decrypted (to another buffer and in place), checked, refused by the other
 * direction's key and re-sealed to the exact wire bytes; the librtmfp datagram decrypted in place.
 * Keys come from the recorded session files, so this needs no handshake code.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { RTMFP_CONTENT_OFFSET } from '../../../src/kernels/index.js';
import type { Kernels, PacketKey } from '../../../src/kernels/index.js';
import { captureFile, flashSession, hex, librtmfpSession } from '../rtmfp/rtmfpTestKit.js';
import { implementations } from './kernelsTestKit.js';

/** RFC 7016's startup key, ASCII "Adobe Systems 02" (vectors README). */
const STARTUP_KEY = Buffer.from('Adobe Systems 02', 'latin1');
const flash = flashSession();
const librtmfp = librtmfpSession();

for (const impl of implementations) {
  void describe(`recorded vectors on the ${impl.name} kernels`, { skip: impl.skip }, () => {
    let kernels: Kernels;
    let keys: Record<'default' | 'serverDecrypt' | 'serverEncrypt', PacketKey>;
    before(() => {
      kernels = impl.kernels();
      keys = {
        default: kernels.createPacketKey(STARTUP_KEY),
        serverDecrypt: kernels.createPacketKey(hex(flash.serverDecryptKey)),
        serverEncrypt: kernels.createPacketKey(hex(flash.serverEncryptKey)),
      };
    });

    void it('every Flash 11.7 packet decrypts, checks, and re-seals byte-exact', () => {
      for (const packet of flash.packets) {
        const wire = captureFile(packet.file);
        const out = Buffer.alloc(wire.length);
        const n = kernels.decryptPacket(keys[packet.key], wire, 0, wire.length, out, 0);
        assert.equal(n, wire.length - 4, `${packet.file}: checksum valid`);
        assert.equal(out.subarray(0, n).toString('hex'), packet.plaintext, packet.file);
        if (packet.key !== 'default') {
          const other = packet.key === 'serverDecrypt' ? keys.serverEncrypt : keys.serverDecrypt;
          assert.ok(kernels.decryptPacket(other, wire, 0, wire.length, Buffer.alloc(wire.length), 0) < 0, `${packet.file}: other key`);
        }
        const inPlace = Buffer.from(wire);
        assert.equal(kernels.decryptPacket(keys[packet.key], inPlace, 0, wire.length, inPlace, 0), n);
        assert.equal(inPlace.subarray(0, n).toString('hex'), packet.plaintext, `${packet.file} in place`);

        // Re-seal from the content without its padding: padding, checksum, AES and SSID redone.
        const content = out.subarray(2, n);
        const padding = content.length - content.findLastIndex((b) => b !== 0xff) - 1;
        const buf = Buffer.alloc(wire.length + 16);
        content.copy(buf, RTMFP_CONTENT_OFFSET, 0, content.length - padding);
        const m = kernels.encryptPacket(keys[packet.key], packet.ssid, buf, RTMFP_CONTENT_OFFSET + content.length - padding, buf, 0);
        assert.equal(buf.subarray(0, m).toString('hex'), packet.wire, `${packet.file} re-sealed`);
      }
    });

    void it('the librtmfp datagram decrypts in place, as a session does', () => {
      const wire = hex(librtmfp.firstClientDatagram.wire);
      const key = kernels.createPacketKey(hex(librtmfp.serverDecryptKey));
      const n = kernels.decryptPacket(key, wire, 0, wire.length, wire, 0);
      assert.equal(n, wire.length - 4);
      assert.equal(wire.subarray(0, n).toString('hex'), librtmfp.firstClientDatagram.plaintext);
    });
  });
}
