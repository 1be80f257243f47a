/**
 * Draws the tester's form with VS Code's own controls (@vscode-elements): a text field per
 * string or number, a checkbox per boolean, a dropdown per enum, a group per nested object, a
 * list with add and remove per list, and a JSON box for whatever the form cannot draw field by
 * field. Each edit updates the drafts and asks the page to read them again.
 */
import { h } from '../vscodeApi';
import { type Draft, type Field, type FieldError, draftOf, typeLabel } from './schemaForm';

export class FormView {
  private errors = new Map<string, string>();

  constructor(
    private readonly container: HTMLElement,
    private fields: Field[],
    private drafts: Record<string, Draft>,
    private readonly onChange: () => void,
  ) {}

  /** Shows other fields (another endpoint) or other drafts (a history entry). */
  reset(fields: Field[], drafts: Record<string, Draft>): void {
    this.fields = fields;
    this.drafts = drafts;
    this.errors.clear();
    this.render();
  }

  /** Marks the fields that do not read; clears the marks of those that now do. */
  showErrors(errors: FieldError[]): void {
    this.errors = new Map(errors.map((error) => [pathKey(error.path), error.message]));
    for (const message of this.container.querySelectorAll<HTMLElement>('.field-error')) {
      const text = this.errors.get(message.dataset.path ?? '') ?? '';
      message.textContent = text;
      message.hidden = text === '';
      const control = message.parentElement?.querySelector<HTMLElement & { invalid?: boolean }>('.field-control');
      if (control && 'invalid' in control) control.invalid = text !== '';
    }
  }

  currentDrafts(): Record<string, Draft> {
    return this.drafts;
  }

  render(): void {
    this.container.replaceChildren(...this.fields.map((field) => this.fieldView(field, this.drafts, field.name, [field.name])));
    this.showErrors([...this.errors].map(([key, message]) => ({ path: JSON.parse(key) as (string | number)[], message })));
  }

  /** One field; `owner[key]` holds its draft (an object's property or a list's item). */
  private fieldView(field: Field, owner: Record<string | number, Draft>, key: string | number, path: (string | number)[]): HTMLElement {
    const set = (value: Draft) => {
      owner[key] = value;
      this.onChange();
    };
    const draft = owner[key] ?? draftOf(field);
    owner[key] = draft;
    const label = h('div', { class: 'field-label' },
      h('span', { class: 'field-name' }, typeof key === 'number' ? `#${key + 1}` : field.label),
      field.required && typeof key !== 'number' ? h('span', { class: 'field-required', title: 'Required' }, '*') : null,
      h('span', { class: 'field-type' }, typeLabel(field)));
    const description = field.description ? h('div', { class: 'field-description' }, field.description) : null;
    const error = h('div', { class: 'field-error', hidden: true });
    error.dataset.path = pathKey(path);
    const wrap = (control: HTMLElement, kind = field.kind) => h('div', { class: `field field-${kind}` }, label, description, control, error);

    switch (field.kind) {
      case 'string':
      case 'number':
        return wrap(h('vscode-textfield', {
          class: 'field-control',
          value: draft as string,
          placeholder: placeholderOf(field),
          name: path.join('.'),
          oninput: (event: Event) => set((event.target as HTMLInputElement).value),
        }));
      case 'boolean':
        return wrap(h('vscode-checkbox', {
          class: 'field-control',
          checked: draft as boolean,
          label: field.default === undefined ? '' : `default: ${String(field.default)}`,
          name: path.join('.'),
          onchange: (event: Event) => set((event.target as HTMLInputElement).checked),
        }));
      case 'enum': {
        const select = h('vscode-single-select', {
          class: 'field-control',
          name: path.join('.'),
          onchange: (event: Event) => set((event.target as HTMLSelectElement).value),
        },
        ...(field.required ? [] : [h('vscode-option', { value: '' }, field.default === undefined ? '(not set)' : `(default: ${JSON.stringify(field.default)})`)]),
        ...field.options.map((option) => h('vscode-option', { value: JSON.stringify(option) }, typeof option === 'string' ? option : JSON.stringify(option))));
        // Set after the options exist, or the select keeps its first option.
        queueMicrotask(() => { select.value = draft as string; });
        return wrap(select);
      }
      case 'json':
        return wrap(h('vscode-textarea', {
          class: 'field-control',
          value: draft as string,
          rows: 3,
          monospace: true,
          resize: 'vertical',
          placeholder: field.default === undefined ? 'JSON' : `default: ${JSON.stringify(field.default)}`,
          name: path.join('.'),
          oninput: (event: Event) => set((event.target as HTMLTextAreaElement).value),
        }));
      case 'object': {
        const children = draft as Record<string, Draft>;
        return wrap(h('div', { class: 'field-group' },
          ...field.fields.map((child) => this.fieldView(child, children, child.name, [...path, child.name]))));
      }
      case 'array': {
        const items = draft as Draft[];
        const list = h('div', { class: 'field-list' },
          ...items.map((_, index) => h('div', { class: 'field-list-item' },
            this.fieldView(field.item, items as unknown as Record<number, Draft>, index, [...path, index]),
            h('vscode-button', {
              secondary: true, icon: 'trash', title: `Remove #${index + 1}`, 'aria-label': `Remove item ${index + 1} of ${field.label}`,
              onclick: () => {
                items.splice(index, 1);
                this.onChange();
                this.render();
              },
            }))),
          h('vscode-button', {
            secondary: true, icon: 'add', class: 'field-add',
            onclick: () => {
              items.push(draftOf(field.item, undefined));
              this.onChange();
              this.render();
            },
          }, `Add ${field.item.kind === 'object' ? 'an item' : typeLabel(field.item)}`));
        return wrap(list);
      }
    }
  }
}

function placeholderOf(field: Field): string {
  if (field.default !== undefined && field.default !== null) return `default: ${String(field.default)}`;
  if (!field.required) return field.nullable ? 'optional (null)' : 'optional';
  return '';
}

function pathKey(path: (string | number)[]): string {
  return JSON.stringify(path);
}
