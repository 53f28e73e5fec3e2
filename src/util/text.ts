/** A script value as text: scalars as JS prints them, tables and arrays as JSON, nothing as "". */
export const textOf = (value: unknown): string => {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'undefined':
      return '';
    case 'object':
      if (value === null) {
        return '';
      }
      return Buffer.isBuffer(value) ? value.toString('utf8') : JSON.stringify(value);
    default:
      return '';
  }
};
