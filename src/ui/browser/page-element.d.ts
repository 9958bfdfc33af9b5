/**
 * An element of the live page by id. Every id the script looks up is in the page it is served
 * with; the inputs and buttons among them are read through `value` and `disabled`, and a number
 * written to `value` is shown as its text, as the DOM converts it.
 */
export interface PageElement extends Omit<HTMLInputElement, 'value'> {
  get value(): string;
  set value(text: string | number | undefined);
}
