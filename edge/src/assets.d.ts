// wrangler.toml `rules` bundle .txt files as Text modules: the import is the file's contents.
declare module "*.txt" {
  const text: string;
  export default text;
}
