import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AmfEcmaArray, AmfTypedObject, decodeAmf0 } from '../../../src/amf/index.js';
import { fromAmf, toAmf } from '../../../src/scripting/serializers/amf.js';
import { plainToTyped, type TypedFound, typedToPlain } from '../../../src/scripting/typedObjects.js';
import { harness, logs } from './kit.js';

describe('typed objects: Lua serializers and onTypedObject', () => {
  it('toAMF/toAMF0 write a __type table as a typed object (0x10, AMF3 traits), fromAMF reads it back and calls onTypedObject inner first', async () => {
    const h = await harness({
      'www/main.lua': `
        local seen = {}
        function onTypedObject(type, object)
          seen[#seen + 1] = type
          if type == "Cat" then function object:meow() return self.name .. " meows" end end
          if type == "Bad" then error("bad object") end
        end
        function onConnection(client)
          function client:amf(amf0)
            local cat = { __type = "Cat", name = "Tom", toy = { __type = "Ball" } }
            local bytes = amf0 and mona:toAMF0(cat) or mona:toAMF(cat)
            local back, n = mona:fromAMF(bytes), 0
            local order = table.concat(seen, ",")
            seen = {}
            return bytes, back:meow(), back.toy.__type, order, back.__type
          end
          function client:bad()
            local back = mona:fromAMF(mona:toAMF({ __type = "Bad", a = 1 }))
            return back.a, back.__type
          end
          function client:typedAnswer() return { __type = "Answer", list = { 1, 2 } } end
        end`,
    });
    const client = h.client();
    await h.connect(client);
    const bytes = (v: unknown): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : (v as Buffer));
    const [amf0Result, meow, toy, order, type] = (await h.core.call(client, 'amf', [true])) as [unknown, string, string, string, string];
    const amf0Bytes = bytes(amf0Result);
    assert.equal(amf0Bytes[0], 0x10, 'AMF0 typed object');
    assert.deepEqual(decodeAmf0(amf0Bytes), [new AmfTypedObject('Cat', { name: 'Tom', toy: new AmfTypedObject('Ball') })]);
    assert.deepEqual([meow, toy, order, type], ['Tom meows', 'Ball', 'Ball,Cat', 'Cat']);
    const [amf3Result, meow3, , order3] = (await h.core.call(client, 'amf', [false])) as [unknown, string, string, string];
    const amf3Bytes = bytes(amf3Result);
    assert.equal(amf3Bytes[0], 0x11, 'switched to AMF3');
    assert.deepEqual(fromAmf(amf3Bytes), [new AmfTypedObject('Cat', { name: 'Tom', toy: new AmfTypedObject('Ball') })]);
    assert.deepEqual([meow3, order3], ['Tom meows', 'Ball,Cat']);
    // A hook that fails is logged with the script's line; the read goes on.
    assert.deepEqual(await h.core.call(client, 'bad', []), [1, 'Bad']);
    assert.ok(logs.some((l) => /onTypedObject: www\/main\.lua:6: bad object/.test(l)), logs.slice(-5).join('\n'));
    // An answer table with __type is a typed object for the protocol.
    assert.deepEqual(await h.core.call(client, 'typedAnswer', []), [new AmfTypedObject('Answer', { list: [1, 2] })]);
    h.host.stop();
  });

  it('JS: typed objects become { __type, ... } (found inner first, cycles kept) and go back typed', () => {
    const inner = new AmfTypedObject('Inner', { x: 1 });
    const outer = new AmfTypedObject('Outer', { inner, again: inner, list: new AmfEcmaArray({ k: inner }, [inner]) });
    outer.properties.self = outer;
    const found: TypedFound[] = [];
    const plain = typedToPlain([outer], found) as Array<Record<string, unknown>>;
    assert.deepEqual(found.map(([type]) => type), ['Inner', 'Outer']);
    assert.equal(plain[0].__type, 'Outer');
    assert.equal(plain[0].self, plain[0]);
    assert.equal(plain[0].inner, plain[0].again);
    assert.deepEqual(plain[0].inner, { x: 1, __type: 'Inner' });
    const back = plainToTyped(plain[0]) as AmfTypedObject;
    assert.ok(back instanceof AmfTypedObject && back.className === 'Outer');
    assert.equal(back.properties.self, back);
    assert.deepEqual(back.properties.inner, inner);
    // Functions an onTypedObject added are left out; a class instance that marks itself is typed too.
    class Cat {
      __type = 'Cat';
      name = 'Tom';
      meow(): string {
        return 'meow';
      }
    }
    assert.deepEqual(plainToTyped({ a: new Cat(), f: { __type: 'F', g: () => 1 } }), { a: new AmfTypedObject('Cat', { name: 'Tom' }), f: new AmfTypedObject('F') });
    assert.deepEqual(toAmf([plainToTyped({ __type: 'T', n: 1 }) as AmfTypedObject], true), toAmf([new AmfTypedObject('T', { n: 1 })], true));
    assert.deepEqual(plainToTyped({ __type: 5 }), { __type: 5 }, 'only a string __type is a class name');
  });
});
