/**
 * AMF3 externalizable classes we understand. An externalizable object's body is written by the
 * class's own code, so an unknown one cannot even be skipped; only the Flex wrapper classes whose
 * body is exactly one AMF3 value are supported. They decode to an AmfTypedObject holding that body
 * under the property name the Flex class itself uses, and encode back the same way.
 */

const bodyProperty: ReadonlyMap<string, string> = new Map([
  ['flex.messaging.io.ArrayCollection', 'source'],
  ['flex.messaging.io.ArrayList', 'source'],
  ['flex.messaging.io.ObjectProxy', 'object'],
  ['mx.collections.ArrayCollection', 'source'],
  ['mx.collections.ArrayList', 'source'],
  ['mx.utils.ObjectProxy', 'object'],
]);

/** The property that holds the single-value body of `className`, or undefined if unsupported. */
export const externalizableBodyProperty = (className: string): string | undefined => bodyProperty.get(className);
