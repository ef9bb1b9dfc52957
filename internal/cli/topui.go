package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/table"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/microvm-host/microvm/internal/printable"
)

// runTopUI runs the live view on the terminal in/out until q, Ctrl-C or
// ctx ends.
//
// Bubble Tea v2, not v1: v1 asks the terminal for its background colour
// in a package init, so every microvm command, not only top, waited 5 s
// on a terminal that does not answer (apt's pty, script, serial consoles).
func runTopUI(ctx context.Context, in, out *os.File, src *topSource, col int, every time.Duration) error {
	// Only bold and reverse video, never colours: the view reads the same
	// on every terminal and with NO_COLOR, and the selected row must show
	// on all of them. The ANSI profile keeps those attributes where
	// NO_COLOR would drop every one.
	plain := lipgloss.NewStyle()
	m := &topModel{ctx: ctx, src: src, every: every, col: col, desc: topColumns[col].Desc}
	m.table = table.New(
		table.WithFocused(true),
		table.WithKeyMap(table.KeyMap{
			LineUp:     key.NewBinding(key.WithKeys("up")),
			LineDown:   key.NewBinding(key.WithKeys("down")),
			PageUp:     key.NewBinding(key.WithKeys("pgup")),
			PageDown:   key.NewBinding(key.WithKeys("pgdown")),
			GotoTop:    key.NewBinding(key.WithKeys("home")),
			GotoBottom: key.NewBinding(key.WithKeys("end")),
		}),
		table.WithStyles(table.Styles{
			Header:   plain.Bold(true).PaddingRight(1),
			Cell:     plain.PaddingRight(1),
			Selected: plain.Reverse(true),
		}),
	)
	m.title = plain.Bold(true)
	p := tea.NewProgram(m, tea.WithInput(in), tea.WithOutput(out), tea.WithContext(ctx), tea.WithColorProfile(colorprofile.ANSI))
	_, err := p.Run()
	if errors.Is(err, tea.ErrInterrupted) || (errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil) {
		return nil
	}
	return err
}

// topModel is the live view: a title, the table, the keys.
type topModel struct {
	ctx   context.Context
	src   *topSource
	every time.Duration

	col     int  // sorted by topColumns[col]
	desc    bool // largest first
	rows    []topRow
	running int
	at      time.Time // of the last sample
	err     error     // of the last sample
	table   table.Model
	title   lipgloss.Style
	width   int
}

// topData is a sample, taken off the UI's goroutine.
type topData struct {
	rows    []topRow
	running int
	err     error
	at      time.Time
}

// topTick asks for the next sample.
type topTick struct{}

// fetch samples in a command of its own: one at a time, since the next
// is asked for only when this one is in (so topSource needs no lock).
func (m *topModel) fetch() tea.Cmd {
	return func() tea.Msg {
		rows, running, err := m.src.refresh(m.ctx)
		return topData{rows: rows, running: running, err: err, at: time.Now()}
	}
}

func (m *topModel) Init() tea.Cmd { return m.fetch() }

func (m *topModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case topData:
		m.at, m.err = msg.at, msg.err
		if msg.err == nil {
			m.rows, m.running = msg.rows, msg.running
		}
		m.refill()
		return m, tea.Tick(m.every, func(time.Time) tea.Msg { return topTick{} })
	case topTick:
		return m, m.fetch()
	case tea.WindowSizeMsg:
		m.width = msg.Width
		m.table.SetWidth(msg.Width)             // a viewport of width 0 shows no rows
		m.table.SetHeight(max(msg.Height-2, 2)) // the title and the keys
		m.refill()
		return m, nil
	case tea.KeyPressMsg:
		switch k := msg.String(); k {
		case "q", "ctrl+c":
			return m, tea.Quit
		default:
			for i, c := range topColumns {
				if c.Key == k {
					if i == m.col {
						m.desc = !m.desc
					} else {
						m.col, m.desc = i, c.Desc
					}
					m.refill()
					return m, nil
				}
			}
		}
	}
	var cmd tea.Cmd
	m.table, cmd = m.table.Update(msg)
	return m, cmd
}

// refill sorts the rows into the table, sizes its columns, and keeps the
// cursor on the VM it was on.
func (m *topModel) refill() {
	selected := ""
	if r := m.table.SelectedRow(); len(r) > 0 {
		selected = r[0]
	}
	sortTopRows(m.rows, m.col, m.desc)
	cells := make([][]string, len(m.rows))
	widths := make([]int, len(topColumns))
	for i, c := range topColumns {
		widths[i] = lipgloss.Width(c.Title) + 1 // room for the arrow
	}
	cursor := 0
	for i, r := range m.rows {
		cells[i] = r.cells()
		for j := range cells[i] {
			cells[i][j] = printable.Text(cells[i][j])
			widths[j] = max(widths[j], lipgloss.Width(cells[i][j]))
		}
		if r.Name == selected {
			cursor = i
		}
	}
	cols := make([]table.Column, len(topColumns))
	for i, c := range topColumns {
		title := c.Title
		if i == m.col {
			title += map[bool]string{true: "▼", false: "▲"}[m.desc]
		}
		cols[i] = table.Column{Title: title, Width: widths[i]}
	}
	rows := make([]table.Row, len(cells))
	for i, c := range cells {
		for j := 2; j < len(c); j++ { // numbers, right-aligned
			c[j] = fmt.Sprintf("%*s", widths[j], c[j])
		}
		rows[i] = c
	}
	// Columns first: rows wider than the old columns would not render.
	m.table.SetRows(nil)
	m.table.SetColumns(cols)
	m.table.SetRows(rows)
	m.table.SetCursor(cursor)
}

func (m *topModel) View() tea.View {
	var b strings.Builder
	status := fmt.Sprintf("microvm top: %d VMs, %d running", len(m.rows), m.running)
	switch {
	case m.err != nil:
		status += " · " + printable.Text(m.err.Error())
	case !m.at.IsZero():
		status += " · " + m.at.Format("15:04:05") + ", every " + m.every.String()
	}
	b.WriteString(m.title.Render(status))
	b.WriteString("\n")
	b.WriteString(m.table.View())
	b.WriteString("\nq quit · sort: n name, s state, c cpu, m mem, x rx, t tx, d disk, u uptime, r restarts")
	v := tea.NewView(b.String())
	v.AltScreen = true
	return v
}
