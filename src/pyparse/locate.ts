/** Turns a validation target (a place in the configuration) into a range of the source. */
import type { ProblemTarget } from '../appconfig/problems';
import type { ExtractedApp, ExtractedOption } from './extract';
import type { Range } from './range';
import type { ValueNode } from './values';

/**
 * The option a target names, the one validation judged: the last attribute when attributes set
 * the key (fal's SDK lets them override a keyword; Python keeps the later assignment), else the keyword.
 */
export function findOption(app: ExtractedApp, key: string, source?: ExtractedOption['source']): ExtractedOption | undefined {
  const matches = app.options.filter((option) => option.key === key && (!source || option.source === source));
  return matches.filter((option) => option.source === 'attribute').at(-1) ?? matches.at(-1);
}

function itemRange(value: ValueNode, item: string | number, itemAt: 'key' | 'value'): Range | undefined {
  if (typeof item === 'number') return value.items?.[item]?.range;
  const entry = value.entries?.find((candidate) => candidate.key === item);
  return itemAt === 'key' ? entry?.keyRange : entry?.value.range;
}

/** The exact source range a problem points at; the class name when nothing finer exists. */
export function rangeOfTarget(app: ExtractedApp, target: ProblemTarget): Range {
  switch (target.kind) {
    case 'class':
      return app.classNameRange;
    case 'option': {
      const option = findOption(app, target.key, target.source);
      if (!option) return app.classNameRange;
      if (target.at === 'key') return option.keyRange;
      if (target.item === undefined) return option.value.range;
      return itemRange(option.value, target.item, target.itemAt ?? 'value') ?? option.value.range;
    }
    case 'endpoint': {
      const endpoint = app.endpoints[target.index];
      if (!endpoint) return app.classNameRange;
      return target.at === 'path' ? endpoint.pathRange : endpoint.functionNameRange;
    }
    case 'parameter': {
      const endpoint = app.endpoints[target.endpoint];
      return endpoint?.parameters.find((parameter) => parameter.name === target.parameter)?.range ?? app.classNameRange;
    }
    case 'method':
      return app.methods.find((method) => method.name === target.name)?.nameRange ?? app.classNameRange;
  }
}
