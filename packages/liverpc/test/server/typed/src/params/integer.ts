// A SvelteKit param matcher that narrows its param's type.
export function match(param: string): param is `${number}` {
  return /^\d+$/.test(param);
}
