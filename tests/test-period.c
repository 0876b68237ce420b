/* Unit tests: being written (issue 4). */
int
main(void)
{
    return 0;
}
