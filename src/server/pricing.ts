/** The machine type an app's costs are quoted for, as the file states it. */
import { type AppConfig, findMachineType, type MachineType, UNCHECKED } from '../appconfig';
import { type ExtractedApp, findOption } from '../pyparse';

/**
 * The first machine type in the app's fallback order, or undefined when the file names none that
 * exists (a typo, or a value only known at run time): quoting the default's price there would
 * describe a machine the app does not ask for.
 */
export function pricedMachineType(app: ExtractedApp, settings: AppConfig): MachineType | undefined {
  const option = findOption(app, 'machine_type');
  const chosen = settings.machineTypes[0]!;
  if (option) {
    const value = option.value.value;
    if (value === UNCHECKED) return undefined;
    const written = Array.isArray(value) ? value : [value];
    if (!written.includes(chosen)) return undefined;
  }
  return findMachineType(chosen);
}
