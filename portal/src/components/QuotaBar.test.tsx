import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/react';
import { QuotaBar, quotaColor } from './QuotaBar';
import { renderWith } from '@/test/render';

describe('QuotaBar', () => {
  it('warns above 80% and turns red when the quota is reached', () => {
    expect(quotaColor(50, 100)).toBe('blue');
    expect(quotaColor(80, 100)).toBe('blue');
    expect(quotaColor(81, 100)).toBe('orange');
    expect(quotaColor(100, 100)).toBe('red');
  });

  it('shows usage against the quota with the figures', () => {
    renderWith(<QuotaBar used={900 * 1024} quota={1024 * 1024} />);
    expect(screen.getByTestId('quota-bar').textContent).toMatch(/900.*KiB of 1(\.0)? MiB \(88%\)/);
    expect(screen.getByLabelText('Quota used')).toBeTruthy();
  });

  it('shows nothing for a project without a quota', () => {
    renderWith(<QuotaBar used={5} quota={-1} />);
    expect(screen.queryByLabelText('Quota used')).toBeNull();
  });
});
