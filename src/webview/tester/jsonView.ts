/**
 * A response body as highlighted, indented JSON (keys, strings, numbers, booleans and null each
 * in the theme's own colours), with each picture the extension fetched shown right under the
 * value that names it. Very long strings (a data: URI) are cut in the view; Copy copies them whole.
 */
import { pointerSegment, type ResponseImage } from '../../shared/webviewProtocol';
import { h } from '../vscodeApi';

const LONG_STRING = 160;

export function renderJson(body: unknown, images: ResponseImage[]): HTMLElement {
  const byPointer = new Map(images.map((image) => [image.pointer, image.dataUri]));
  const root = h('pre', { class: 'json' });
  let line = h('div', { class: 'json-line' });
  root.append(line);
  const newLine = (depth: number) => {
    line = h('div', { class: 'json-line' }, '  '.repeat(depth));
    root.append(line);
  };
  const token = (kind: string, text: string, title?: string) => line.append(h('span', { class: `json-${kind}`, title }, text));
  const pendingFigures: { after: HTMLElement; figure: HTMLElement; depth: number }[] = [];

  const write = (value: unknown, pointer: string, depth: number) => {
    if (value === null) token('null', 'null');
    else if (typeof value === 'string') {
      const shown = value.length > LONG_STRING ? `${value.slice(0, LONG_STRING)}… (${value.length} characters)` : value;
      token('string', JSON.stringify(shown), value.length > LONG_STRING ? value.slice(0, 1000) : undefined);
      const picture = byPointer.get(pointer);
      if (picture) {
        // The picture goes on a line of its own after this one, indented with the value.
        const figure = h('div', { class: 'json-image' },
          h('img', { src: picture, alt: `The image at ${pointer || 'the body'}`, title: pointer || 'the body' }));
        pendingFigures.push({ after: line, figure, depth });
      }
    } else if (typeof value === 'number' || typeof value === 'boolean') token(typeof value, String(value));
    else if (Array.isArray(value)) {
      if (value.length === 0) return token('punctuation', '[]');
      token('punctuation', '[');
      value.forEach((item, index) => {
        newLine(depth + 1);
        write(item, `${pointer}/${index}`, depth + 1);
        if (index < value.length - 1) token('punctuation', ',');
      });
      newLine(depth);
      token('punctuation', ']');
    } else if (typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) return token('punctuation', '{}');
      token('punctuation', '{');
      entries.forEach(([key, item], index) => {
        newLine(depth + 1);
        token('key', JSON.stringify(key));
        token('punctuation', ': ');
        write(item, `${pointer}/${pointerSegment(key)}`, depth + 1);
        if (index < entries.length - 1) token('punctuation', ',');
      });
      newLine(depth);
      token('punctuation', '}');
    } else {
      token('string', String(value));
    }
    return undefined;
  };

  if (typeof body === 'string' && !byPointer.has('')) {
    // Not JSON: the runtime or the app answered text.
    token('text', body);
  } else {
    write(body, '', 0);
  }
  for (const { after, figure, depth } of pendingFigures) {
    figure.classList.add(`json-indent-${Math.min(depth, 8)}`);
    after.after(figure);
  }
  return root;
}
