/** `@octokit/fixtures` ships no types: only `get` (a scenario's recorded exchanges) is used here. */
declare module "@octokit/fixtures" {
  const fixtures: { get(name: string): unknown };
  export default fixtures;
}
