import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AmfByteString, AmfDictionary, AmfEcmaArray, AmfTypedObject } from '../../../src/amf/index.js';
import { fromAmf, toAmf } from '../../../src/scripting/serializers/amf.js';
import { fromQuery, toQuery } from '../../../src/scripting/serializers/query.js';
import { fromXml, toXml } from '../../../src/scripting/serializers/xml.js';
import { fromXmlRpc, toXmlRpc } from '../../../src/scripting/serializers/xmlRpc.js';
import { harness, logs } from './kit.js';

const HEAD = '<?xml version="1.0"?><methodResponse><params>';
const FOOT = '</params></methodResponse>';
const WHEN = new Date(Date.UTC(2014, 8, 30, 13, 15, 17));

describe('serializers: XML-RPC', () => {
  it("writes MonaServer's XML-RPC, and reads it back", () => {
    assert.equal(toXmlRpc([]).toString(), `${HEAD}${FOOT}`);
    const values = [1, 2.5, true, null, 'a<b&c', WHEN, Buffer.from([0xff, 0, 0x14]), [1, 'x'], { k: 'v' }, new AmfTypedObject('T', { a: 1 })];
    const xml = toXmlRpc(values).toString();
    assert.equal(
      xml,
      [
        HEAD,
        '<param><value><int>1</int></value></param>',
        '<param><value><double>2.5</double></value></param>',
        '<param><value><boolean>1</boolean></value></param>',
        '<param><value></value></param>',
        '<param><value><string>a&lt;b&amp;c</string></value></param>',
        '<param><value><dateTime.iso8601>2014-09-30T13:15:17.000Z</dateTime.iso8601></value></param>',
        '<param><value><base64>/wAU</base64></value></param>',
        '<param><value><array size="2"><data><value><int>1</int></value><value><string>x</string></value></data></array></value></param>',
        '<param><value><struct><member><name>k</name><value><string>v</string></value></member></struct></value></param>',
        '<param><value><struct type="T"><member><name>a</name><value><int>1</int></value></member></struct></value></param>',
        FOOT,
      ].join(''),
    );
    assert.deepEqual(fromXmlRpc(xml), values);
  });

  it('reads a methodCall as its name then its params, with the standard types and text kept as it is', () => {
    const call = `<?xml version="1.0"?>
      <methodCall>
        <methodName>examples.getStateName</methodName>
        <params>
          <param><value><i4>41</i4></value></param>
          <param><value>  plain text  </value></param>
          <param><value><string>  kept  </string></value></param>
          <param><value><dateTime.iso8601>19980717T14:08:55Z</dateTime.iso8601></value></param>
          <param><value><boolean>false</boolean></value></param>
          <param><value><nil/></value></param>
          <param><value><array><data>
            <value><int>1</int></value>
          </data></array></value></param>
        </params>
      </methodCall>`;
    assert.deepEqual(fromXmlRpc(call), ['examples.getStateName', 41, '  plain text  ', '  kept  ', new Date(Date.UTC(1998, 6, 17, 14, 8, 55)), false, null, [1]]);
    assert.deepEqual(fromXmlRpc('<notRpc/>'), []);
    assert.throws(() => fromXmlRpc('<methodResponse><params>'), /Unexpected end|unclosed|end of/i);
  });

  it('writes a mixed table as an array led by a struct, a map as a struct with __size; refuses a cycle, repeats a shared table', () => {
    assert.deepEqual(fromXmlRpc(toXmlRpc([new AmfEcmaArray({ prop: 'prop' }, ['elt1'])]).toString()), [[{ prop: 'prop' }, 'elt1']]);
    assert.deepEqual(fromXmlRpc(toXmlRpc([new AmfDictionary([['map', 'map']])]).toString()), [{ map: 'map', __size: 1 }]);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => toXmlRpc([cyclic as never]), /a cyclic table cannot be written in XML-RPC/);
    const shared = { a: 1 };
    assert.deepEqual(fromXmlRpc(toXmlRpc([[shared, shared]]).toString()), [[{ a: 1 }, { a: 1 }]]);
    // A byte string that is not UTF-8 is written as its bytes (as MonaServer does), markup escaped.
    const bytes = toXmlRpc([new AmfByteString(Buffer.from([0xff, 0x3c]))]);
    assert.ok(bytes.includes(Buffer.from([0xff, 0x26, 0x6c, 0x74, 0x3b])));
  });
});

describe('serializers: query', () => {
  it("writes the Query LUATest's values and reads its expected query back", () => {
    // The LUATest expects LuaJIT's pairs() order of its tables; JS objects keep their insertion order.
    assert.equal(toQuery([{ key1: 'val1', key2: 'val2' }, 'str#ing', { key3: 'val3', key4: 10, key5: true }]), 'key1=val1&key2=val2&str%23ing&key3=val3&key4=10&key5=true');
    assert.deepEqual(fromQuery('key1=val1&key2=val2&str%23ing&key3=val3&key5=true&key4=10'), [{ key1: 'val1', key2: 'val2' }, 'str#ing', { key3: 'val3', key5: true, key4: 10 }]);
  });

  it('encodes what would split a query, so any string comes back; + is a space; nil, dates, bytes, arrays', () => {
    const tricky = { 'a b': 'x&y=z+w%#?', u: 'é', empty: '' };
    const query = toQuery([tricky]);
    assert.equal(query, 'a%20b=x%26y%3Dz%2Bw%25%23%3F&u=%C3%A9&empty=');
    assert.deepEqual(fromQuery(query), [tricky]);
    assert.deepEqual(fromQuery('a=b+c&NULL&TRUE&-1.5e3&20140930'), [{ a: 'b c' }, null, true, -1500, 20140930]);
    assert.equal(toQuery([null, WHEN, new Date(WHEN.getTime() + 5), Buffer.from([0xfb, 0xff]), [1, 2]]), 'null&20140930T131517Z&20140930T131517.005Z&%2B/8%3D&1&2');
    assert.deepEqual(fromQuery('20140930T131517Z&2014-09-30T13:15:17.005Z'), [WHEN, new Date(WHEN.getTime() + 5)]);
    assert.deepEqual(fromQuery('%FF'), [new AmfByteString(Buffer.from([0xff]))]);
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    assert.throws(() => toQuery([cyclic as never]), /cyclic/);
  });
});

describe('serializers: XML', () => {
  const MONA = '<?xml version="1.0" ?><document ><article ><p >This is the first paragraph.</p><h2 class="opt" >Title with opt style</h2></article><article ><p >Some<b >important</b>text.</p></article></document>';

  it("reads MonaServer's XML test document into elements and writes it back the same", () => {
    const doc = fromXml(MONA);
    assert.deepEqual(doc.declarations, { xml: { version: '1.0' } });
    assert.deepEqual(doc.elements[0].children[1], { name: 'article', attributes: {}, children: [{ name: 'p', attributes: {}, children: ['Some', { name: 'b', attributes: {}, children: ['important'] }, 'text.'] }] });
    assert.equal(toXml(doc), MONA);
  });

  it('trims text as MonaServer does but keeps CDATA, escapes what it writes, reports malformed XML', () => {
    const doc = fromXml("<?xml version='1.0'?>\n<a x='1 &amp; 2'>\n  Some <![CDATA[ <raw> ]]> text <b/>\n</a>");
    assert.deepEqual(doc.elements, [{ name: 'a', attributes: { x: '1 & 2' }, children: ['Some  <raw>  text', { name: 'b', attributes: {}, children: [] }] }]);
    assert.equal(toXml(doc), '<?xml version="1.0" ?><a x="1 &amp; 2" >Some  &lt;raw&gt;  text<b /></a>');
    assert.throws(() => fromXml('<a><b></a>'), /1:\d+: unexpected close tag/);
    assert.throws(() => toXml({ declarations: { xml: { version: '1.0' } }, elements: [] }), /no XML element/);
    assert.throws(() => toXml({ declarations: {}, elements: [{ name: 'a b', attributes: {}, children: [] }] }), /invalid XML element name/);
  });
});

describe('serializers: AMF', () => {
  it('writes a cyclic or shared table as references (AMF3 and AMF0) and reads them back as the same objects', () => {
    const o: Record<string, unknown> = { name: 'o', list: [1, 2] };
    o.self = o;
    o.again = o.list;
    for (const amf0 of [false, true]) {
      const [back] = fromAmf(toAmf([o as never], amf0)) as Array<Record<string, unknown>>;
      assert.equal(back.self, back);
      assert.equal(back.again, back.list);
      assert.deepEqual(back.list, [1, 2]);
    }
    assert.ok(toAmf([o as never], true).includes(Buffer.from([0x07, 0x00, 0x00])), 'an AMF0 reference to the object itself');
  });

  it("follows MonaServer's choice of AMF0 or AMF3 per value, byte strings as strings, byte arrays and mixed tables switched in AMF0", () => {
    assert.deepEqual(toAmf(['x', 5, 2.5, true, null], false), Buffer.from('11060378110405004004000000000000010105', 'hex'));
    assert.deepEqual(toAmf([Buffer.from([1, 2])], true), Buffer.from('110c050102', 'hex'));
    assert.deepEqual(toAmf([new AmfEcmaArray({ p: 1 }, ['e'])], true), Buffer.from('1109030370040101060365', 'hex'));
    const binary = new AmfByteString(Buffer.from([0xff, 0x00]));
    assert.deepEqual(toAmf([binary], false), Buffer.from('110605ff00', 'hex'));
    assert.deepEqual(toAmf([binary], true), Buffer.from('020002ff00', 'hex'));
    assert.deepEqual(fromAmf(toAmf([binary, 'text', Buffer.from([1])], false)), [binary, 'text', Buffer.from([1])]);
  });
});

describe('serializers in Lua and JS apps', () => {
  it('Lua: cycles, shared tables, dates, bytes, maps through toAMF/toAMF0/fromAMF', async () => {
    const h = await harness({
      'www/main.lua': `
        function onConnection(client)
          function client:amf()
            local t = { name = "t", list = { 1, 2 } }
            t.self = t
            t.again = t.list
            for _, encode in ipairs({ mona.toAMF, mona.toAMF0 }) do
              local back = mona:fromAMF(encode(mona, t))
              assert(back.self == back and back.again == back.list and back.list[2] == 2 and back.name == "t")
            end
            local when = mona:fromAMF(mona:toAMF({ __time = 1412082917000 }))
            local local_ = os.date("*t", 1412082917)
            assert(when.__time == 1412082917000 and when.year == local_.year and when.month == local_.month and when.day == local_.day)
            assert(when.hour == local_.hour and when.min == local_.min and when.wday == local_.wday and when.yday == local_.yday and when.msec == 0)
            local bytes = mona:fromAMF(mona:toAMF0({ __raw = "\\0\\255" }))
            assert(type(bytes) == "table" and bytes.__raw == "\\0\\255")
            assert(mona:fromAMF(mona:toAMF("\\0\\255")) == "\\0\\255")
            local map = mona:fromAMF(mona:toAMF(setmetatable({ __size = 1, k = "v" }, { __mode = "k" })))
            assert(map.__size == 1 and map.k == "v" and getmetatable(map).__mode == "k")
            local typed = mona:fromAMF(mona:toAMF0({ __type = "Cat", lives = 9 }))
            assert(typed.__type == "Cat" and typed.lives == 9)
            return true
          end
          function client:query()
            local tab1, str, tab2 = mona:fromQuery("key1=val1&key2=val2&str%23ing&key3=val3&key5=true&key4=10")
            assert(tab1.key1 == "val1" and tab1.key2 == "val2" and str == "str#ing")
            assert(tab2.key3 == "val3" and tab2.key4 == 10 and tab2.key5 == true)
            return mona:toQuery({ key1 = "val1", key2 = "val2" }, "str#ing", { key3 = "val3", key4 = 10, key5 = true })
          end
          function client:xml()
            local errors = {}
            assert(mona:fromXML(function(e) errors[#errors + 1] = e end, "<a><b></a>") == nil and #errors == 1)
            assert(mona:toXML(42) == nil)
            local raised = select(2, pcall(mona.fromXML, mona, error, "<a>"))
            local d = mona:fromXML('<?xml version="1.0"?><r n="1"><c>x</c><c>y</c></r>')
            assert(d.r.c.__value == "x" and d.r[2][1] == "y" and d.r.n == "1" and d.r.nothing == nil)
            d.r.c.__value = "z"
            return mona:toXML(d), errors[1], raised
          end
          function client:xmlrpc()
            local t = {}
            t.self = t
            local ok, err = pcall(mona.toXMLRPC, mona, t)
            assert(not ok)
            local name, a, b = mona:fromXMLRPC('<methodCall><methodName>add</methodName><params><param><value><int>2</int></value></param><param><value><double>0.5</double></value></param></params></methodCall>')
            assert(name == "add" and a == 2 and b == 0.5)
            return mona:toXMLRPC({ 1, "two" }), err
          end
        end`,
    });
    const client = h.client();
    await h.connect(client);
    assert.deepEqual(await h.core.call(client, 'amf', []), [true]);
    // The LUATest's own check, without the order of pairs(): each table's fields as a set.
    const [query] = (await h.core.call(client, 'query', [])) as [string];
    const items = query.split('&');
    assert.deepEqual([items.slice(0, 2).sort(), items[2], items.slice(3).sort()], [['key1=val1', 'key2=val2'], 'str%23ing', ['key3=val3', 'key4=10', 'key5=true']]);
    const [xml, parseError, raised] = (await h.core.call(client, 'xml', [])) as string[];
    assert.equal(xml, '<?xml version="1.0" ?><r n="1" ><c >z</c><c >y</c></r>');
    assert.match(parseError, /unexpected close tag/);
    assert.match(raised, /^www\/main\.lua:\d+: .*unclosed tag/);
    assert.ok(logs.some((l) => /www\/main\.lua:\d+: only a table can be converted to XML/.test(l)), 'toXML without a handler logs why it returns nothing');
    const [rpc, cycleError] = (await h.core.call(client, 'xmlrpc', [])) as string[];
    assert.equal(rpc, `${HEAD}<param><value><array size="2"><data><value><int>1</int></value><value><string>two</string></value></data></array></value></param>${FOOT}`);
    assert.match(cycleError, /^www\/main\.lua:\d+: a cyclic table cannot be written in XML-RPC/);
    h.host.stop();
  });

  it('JS: the same serializers on JS values', async () => {
    const h = await harness({
      'www/main.js': `
        export function onConnection(client) {
          client.check = () => {
            const m = this.mona;
            const o = { name: 'o' };
            o.self = o;
            const [back] = m.fromAMF(m.toAMF0(o));
            const xml = m.toXMLRPC(1, 'a', Buffer.from([255]));
            const query = m.toQuery({ a: 1 }, 'x y');
            const doc = m.fromXML('<a x="1">t</a>');
            return [back.self === back, xml, m.fromXMLRPC(xml), query, m.fromQuery(query), doc, m.toXML(doc)];
          };
        }`,
    });
    const client = h.client();
    await h.connect(client);
    const [result] = (await h.core.call(client, 'check', [])) as [unknown[]];
    assert.deepEqual(result, [
      true,
      `${HEAD}<param><value><int>1</int></value></param><param><value><string>a</string></value></param><param><value><base64>/w==</base64></value></param>${FOOT}`,
      [1, 'a', Buffer.from([255])],
      'a=1&x%20y',
      [{ a: 1 }, 'x y'],
      { declarations: {}, elements: [{ name: 'a', attributes: { x: '1' }, children: ['t'] }] },
      '<a x="1" >t</a>',
    ]);
    h.host.stop();
  });
});
