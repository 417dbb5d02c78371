export { default } from '@peaktrade/eslint-config';
